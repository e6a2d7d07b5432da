// The workspace's ingress in front of every application: routed by the Host header on the API's own port, with the
// switches a real workspace decides by itself (ingress.md says what each stands for and why).
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Store, StoredApplication } from './store.js';

export interface IngressSettings {
  /** What a request without a session or an accepted key gets: CML's login redirect, or a bare 401. */
  unauthenticated: 'login-redirect' | '401';
  /** Whether the ingress takes the API key (`Authorization: Bearer <key>`) as a login to an application. */
  acceptsApiKey: boolean;
  /** Admin › Security: "Allow applications to be configured with unauthenticated access". */
  allowUnauthenticatedApps: boolean;
  /** What the API does with `bypass_authentication: true` while that is not allowed: the three undocumented ways. */
  refusedBypass: 'reject' | 'store-false' | 'store-true-ignored';
  /** A request body over this gets 413 before anything reaches the application. */
  bodyLimitBytes: number;
  /** An application silent for this long (before its answer starts, or between two chunks of it) ends the request: 504, or a cut stream. */
  responseTimeoutMs: number;
}

export const DEFAULT_INGRESS: IngressSettings = {
  unauthenticated: 'login-redirect',
  acceptsApiKey: true,
  allowUnauthenticatedApps: false,
  refusedBypass: 'reject',
  bodyLimitBytes: 100 * 2 ** 20,
  responseTimeoutMs: 60_000,
};

/** The cookie a browser holds after CML's login; `sessionCookie` is its one valid value. */
export const SESSION_COOKIE = 'cml_session';

export interface IngressContext {
  store: Store;
  settings: () => IngressSettings;
  /** host:port of the workspace as CDSW_DOMAIN has it, and as clients name it: an application is `<subdomain>.<either>`. */
  domains: readonly string[];
  /** The workspace's URL, where the login page is. */
  url: string;
  apiKey: string;
  sessionCookie: string;
  /** Every request the ingress answered, as its access log has it (the whole URL, never a header). */
  log: IngressRecord[];
}

export interface IngressRecord {
  host: string;
  method: string;
  url: string;
  status: number;
}

/** The application the Host names, when it names one under the workspace's domain. */
export function subdomainOf(host: string | undefined, domains: readonly string[]): string | undefined {
  const domain = domains.find((candidate) => host?.endsWith(`.${candidate}`) === true);
  return host === undefined || domain === undefined ? undefined : host.slice(0, -domain.length - 1);
}

/** Whether the ingress lets this request through to the application: public, a session, or the key where accepted. */
export function isAdmitted(context: IngressContext, application: StoredApplication, request: IncomingMessage): boolean {
  const settings = context.settings();
  if (application.fields.bypass_authentication === true && settings.allowUnauthenticatedApps) return true;
  const cookies = (request.headers.cookie ?? '').split(';').map((part) => part.trim());
  if (cookies.includes(`${SESSION_COOKIE}=${context.sessionCookie}`)) return true;
  return settings.acceptsApiKey && request.headers.authorization === `Bearer ${context.apiKey}`;
}

/** Answers one request for an application, as CML's ingress would. */
export function serveThroughIngress(context: IngressContext, subdomain: string, request: IncomingMessage, response: ServerResponse): void {
  const settings = context.settings();
  const record: IngressRecord = { host: request.headers.host ?? '', method: request.method ?? 'GET', url: request.url ?? '/', status: 0 };
  context.log.push(record);
  response.once('finish', () => {
    record.status = response.statusCode;
  });
  const application = [...context.store.applications.values()].find((candidate) => candidate.subdomain === subdomain);
  // Answered before the body is read: what the client still sends is read and dropped.
  const early = (status: number, title: string, text: string): void => {
    request.resume();
    page(response, status, title, text);
  };
  if (application === undefined) return early(404, 'Not Found', `no application at ${subdomain}`);
  if (!isAdmitted(context, application, request)) {
    if (settings.unauthenticated === '401') return early(401, 'Unauthorized', 'log in to Cloudera AI');
    const next = encodeURIComponent(`http://${request.headers.host ?? ''}${request.url ?? '/'}`);
    request.resume();
    response.writeHead(302, { location: `${context.url}/login?next=${next}`, 'content-type': 'text/html' }).end('<html><body>Redirecting to the login page</body></html>');
    return;
  }
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > settings.bodyLimitBytes) return early(413, 'Request Entity Too Large', `over ${settings.bodyLimitBytes} bytes`);
  if (application.status !== 'APPLICATION_RUNNING' || application.port === undefined) return early(502, 'Bad Gateway', `${subdomain} is not running`);

  const upstream = httpRequest({ host: '127.0.0.1', port: application.port, method: request.method, path: request.url, headers: request.headers });
  upstream.setTimeout(settings.responseTimeoutMs, () => {
    if (!response.headersSent) page(response, 504, 'Gateway Timeout', `no answer within ${settings.responseTimeoutMs} ms`);
    else response.destroy();
    upstream.destroy();
  });
  upstream.once('error', () => {
    if (!response.headersSent) page(response, 502, 'Bad Gateway', `${subdomain} does not answer`);
    else response.destroy();
  });
  upstream.once('response', (answer) => {
    response.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(response);
  });
  let received = 0;
  request.on('data', (chunk: Buffer) => {
    received += chunk.length;
    // A body sent without a length (chunked) is cut at the limit too.
    if (received > settings.bodyLimitBytes && !response.headersSent) {
      upstream.destroy();
      page(response, 413, 'Request Entity Too Large', `over ${settings.bodyLimitBytes} bytes`);
    }
  });
  request.pipe(upstream);
  response.once('close', () => upstream.destroy());
}

function page(response: ServerResponse, status: number, title: string, text: string): void {
  if (response.headersSent) return;
  response.writeHead(status, { 'content-type': 'text/html' }).end(`<html><head><title>${status} ${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>`);
}
