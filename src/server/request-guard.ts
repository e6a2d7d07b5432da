// What every request passes before a handler: the Host it names, the token it carries, and the headers every answer gets.
import type { MiddlewareHandler } from 'hono';
import { errorAnswer } from './api-errors.js';
import { RayfleetError } from '../errors.js';
import { tokenMatches } from './dashboard-token.js';

export interface GuardOptions {
  /** The address the server is bound to, as given: 127.0.0.1, ::1, localhost, 0.0.0.0, a host's address. */
  host: string;
  /** The port it listens on, known once it listens (port 0 picks one). */
  port: () => number;
  token: string;
  /** Whether the app has a route for the method at the path: a request for none is refused by the router (404, 405), token or not. */
  routes?: (method: string, path: string) => boolean;
}

/** The page's scripts, styles and data come from this origin only; nothing inline, no frames, no forms elsewhere. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);
const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The Host values a request may carry: the bind address (and, on loopback, its usual names) with the port. */
export function allowedHosts(host: string, port: number): Set<string> | undefined {
  // Bound to every interface there is no one name to check; every request then needs the token anyway.
  if (WILDCARD.has(host)) return undefined;
  const names = isLoopback(host) ? ['127.0.0.1', 'localhost', '[::1]', host.includes(':') && !host.startsWith('[') ? `[${host}]` : host] : [host.includes(':') && !host.startsWith('[') ? `[${host}]` : host];
  return new Set(names.map((name) => `${name}:${port}`.toLowerCase()));
}

/** Paths of the page's shell: public everywhere, holding no data. */
function isShell(path: string): boolean {
  return path === '/' || path.startsWith('/clusters/') || path.startsWith('/assets/') || path === '/favicon.ico';
}

function refuse(status: 400 | 401, code: 'USAGE' | 'UNAUTHORIZED', message: string, details: string): Response {
  const { body } = errorAnswer(new RayfleetError(code, message, { details }));
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...(status === 401 ? { 'www-authenticate': 'Bearer realm="rayfleet"' } : {}) } });
}

export function requestGuard(options: GuardOptions): MiddlewareHandler {
  const loopback = isLoopback(options.host);
  return async (context, next) => {
    const refused = check(context.req.header('host'), context.req.path, context.req.method, context.req.header('authorization'));
    if (refused !== undefined) {
      setSecurityHeaders(refused.headers);
      return refused;
    }
    await next();
    setSecurityHeaders(context.res.headers);
    return undefined;
  };

  function check(hostHeader: string | undefined, path: string, method: string, authorization: string | undefined): Response | undefined {
    const hosts = allowedHosts(options.host, options.port());
    const host = (hostHeader ?? '').toLowerCase();
    // A DNS-rebinding page reaches us under its own name: refuse every name but ours.
    if (hosts !== undefined && !hosts.has(host)) {
      return refuse(400, 'USAGE', `this server answers to ${[...hosts].join(', ')}, not ${host || 'no Host'}`, 'Open the dashboard at the URL `rayfleet dashboard` printed.');
    }
    const read = method === 'GET' || method === 'HEAD';
    // What no route takes (OPTIONS, TRACE, PUT …) reaches the router, which refuses it without data or effect.
    const routed = read || (CHANGES.has(method) && (options.routes?.(method, path) ?? true));
    if (isShell(path) || (read && loopback) || !routed || hasToken(authorization, options.token)) return undefined;
    return refuse(
      401,
      'UNAUTHORIZED',
      read ? 'this server is not on loopback: every request needs the dashboard token' : 'changes need the dashboard token',
      'Send `Authorization: Bearer <token>`; `rayfleet dashboard --token` prints it.',
    );
  }
}

function hasToken(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match !== null && tokenMatches(match[1] as string, token);
}

function setSecurityHeaders(headers: Headers): void {
  headers.set('content-security-policy', CONTENT_SECURITY_POLICY);
  headers.set('x-content-type-options', 'nosniff');
  headers.set('referrer-policy', 'no-referrer');
  headers.set('cross-origin-resource-policy', 'same-origin');
  headers.set('x-frame-options', 'DENY');
  if (!headers.has('cache-control')) headers.set('cache-control', 'no-store');
}
