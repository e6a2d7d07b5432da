// An in-process emulator of the CML API v2 for tests: the swagger decides which requests are valid, the handlers
// keep a small workspace in memory, and applications and job runs are real local processes.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { systemClock, type Clock } from '../../src/time/clock.js';
import { ApiError, GrpcCode, grpcCodeForStatus } from './api-error.js';
import { applicationHandlers, stopApplication } from './applications.js';
import { Faults, type FaultRule, type FaultSettings } from './faults.js';
import { DEFAULT_INGRESS, serveThroughIngress, subdomainOf, type IngressContext, type IngressRecord, type IngressSettings } from './ingress.js';
import { jobHandlers, stopJobRun } from './jobs.js';
import { projectFileHandlers } from './project-files.js';
import { projectHandlers } from './projects.js';
import { runtimeHandlers } from './runtimes.js';
import { Store } from './store.js';
import { RouteTable, loadSwagger, type RouteMatch } from './swagger.js';
import { SwaggerValidator } from './swagger-validator.js';
import type { Handler, World } from './world.js';

export type { FaultRule, FaultSettings, RequestMatch } from './faults.js';
export type { IngressSettings } from './ingress.js';

export interface CmlEmulatorOptions {
  /** The only key the emulator accepts as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** Where project directories go; a temporary directory (removed by close) when absent. */
  projectsRoot?: string;
  /** The interpreter for application and job scripts; `python3` from PATH when absent. */
  python?: string;
  faults?: FaultSettings;
  /** How long a stopped engine gets between SIGTERM and SIGKILL; 2 s when absent. */
  stopGraceMs?: number;
  /** What the API's timestamps read; the system's clock when absent (a test moves a virtual one to age applications). */
  clock?: Clock;
  /** The ingress in front of the applications, over DEFAULT_INGRESS (ingress.md). */
  ingress?: Partial<IngressSettings>;
}

/** One request as the emulator saw it. */
export interface RequestRecord {
  method: string;
  path: string;
  /** The raw query string, `?…` or empty. */
  query: string;
  /** The swagger operation the request matched, if any. */
  operationId: string | undefined;
  status: number;
  /** How the request departs from the swagger; empty when the validator accepted it. */
  violations: string[];
  /** How the emulator's own answer departs from the swagger; not empty means a bug in the emulator. */
  responseViolations: string[];
  /** The fault injected into this request, if any. */
  fault: string | undefined;
}

/** The process behind an application or a job run, while it has one. */
export interface EngineProcess {
  pid: number;
  engineId: string | undefined;
  /** CDSW_APP_PORT, for applications. */
  port: number | undefined;
  logPath: string;
}

export interface CmlEmulator {
  /** http://127.0.0.1:port — what CML_HOST would be. */
  readonly url: string;
  /** 127.0.0.1:port — what CDSW_DOMAIN holds inside workloads. */
  readonly domain: string;
  /**
   * http://localhost:port — the workspace as a client outside it names it (CML_HOST): a name, so that an application's
   * URL, http://<subdomain>.localhost:port, is one (a subdomain of 127.0.0.1 is no URL). Such names do not resolve here.
   */
  readonly workspaceUrl: string;
  /** Where the applications' ingress is reached (host:port): the API's port, routed by Host. RAYFLEET_CAI_INGRESS for clients. */
  readonly ingressAddress: string;
  /** The one value of the session cookie (ingress.ts SESSION_COOKIE) that passes as a browser logged in to CML. */
  readonly sessionCookie: string;
  /** Every request the ingress answered, in arrival order. */
  readonly ingressRequests: IngressRecord[];
  /** Changes the ingress's switches from now on. */
  setIngress(settings: Partial<IngressSettings>): void;
  readonly apiKey: string;
  readonly projectsRoot: string;
  /** The workspace's projects, applications, jobs and runs, for tests to inspect. */
  readonly store: Store;
  /** Every request so far, in arrival order. */
  readonly requests: RequestRecord[];
  /** Replaces the fault settings (counts start afresh). */
  setFaults(settings: FaultSettings): void;
  /** The process of an application or job run, while it runs. */
  processOf(id: string): EngineProcess | undefined;
  /** Everything an application or job run has written so far (every start, appended). */
  readLog(id: string): string;
  /** Stops every process the emulator started, then the server. */
  close(): Promise<void>;
}

const DEFAULT_STOP_GRACE_MS = 2_000;

export async function startCmlEmulator(options: CmlEmulatorOptions): Promise<CmlEmulator> {
  const document = loadSwagger();
  const routes = new RouteTable(document);
  const validator = new SwaggerValidator(document);
  const faults = new Faults();
  faults.set(options.faults ?? {});
  const store = new Store();
  const requests: RequestRecord[] = [];
  const closing = new AbortController();

  const scratch = mkdtempSync(join(tmpdir(), 'cml-emulator-'));
  const projectsRoot = options.projectsRoot ?? join(scratch, 'projects');
  const logsDirectory = join(scratch, 'logs');
  mkdirSync(projectsRoot, { recursive: true });
  mkdirSync(logsDirectory, { recursive: true });

  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let ingressSettings: IngressSettings = { ...DEFAULT_INGRESS, ...options.ingress };
  const world: World = {
    document,
    store,
    faults,
    python: options.python ?? 'python3',
    apiKey: options.apiKey,
    url: `http://127.0.0.1:${port}`,
    domain: `127.0.0.1:${port}`,
    projectsRoot,
    logsDirectory,
    stopGraceMs: options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS,
    clock: options.clock ?? systemClock,
    closing: closing.signal,
    ingress: () => ingressSettings,
  };
  const ingress: IngressContext = {
    store,
    settings: () => ingressSettings,
    domains: [world.domain, `localhost:${port}`],
    url: world.url,
    apiKey: options.apiKey,
    sessionCookie: randomBytes(16).toString('hex'),
    log: [],
  };
  const handlers: Record<string, Handler> = {
    ...projectHandlers(world),
    ...applicationHandlers(world),
    ...jobHandlers(world),
    ...runtimeHandlers(world),
    ...projectFileHandlers(world),
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', world.url);
    const record: RequestRecord = { method, path: url.pathname, query: url.search, operationId: undefined, status: 0, violations: [], responseViolations: [], fault: undefined };
    requests.push(record);
    const send = (status: number, answer: unknown): void => {
      record.status = status;
      // A handler answers raw bytes (a file download) with a Uint8Array, anything else as JSON.
      if (answer instanceof Uint8Array) {
        response.writeHead(status, { 'content-type': 'application/octet-stream' }).end(answer);
        return;
      }
      const text = answer === undefined ? '' : JSON.stringify(answer);
      response.writeHead(status, { 'content-type': 'application/json' }).end(text);
    };

    if (faults.latencyMs > 0) await delay(faults.latencyMs);
    const match = routes.match(method, url.pathname);
    let json: unknown;
    let form: FormData | undefined;
    if (match.kind === 'found') {
      record.operationId = match.route.operation.operationId;
      const checked = validator.checkRequest(match.route, { query: url.searchParams, contentType: request.headers['content-type'], body });
      record.violations = checked.violations;
      json = checked.json;
      if (checked.violations.length === 0 && match.route.operation.parameters?.some((parameter) => parameter.in === 'formData')) {
        form = await parseForm(world.url, request.headers['content-type'] ?? '', body).catch((error: unknown) => {
          record.violations.push(`the body is not multipart/form-data: ${(error as Error).message}`);
          return undefined;
        });
      }
    } else {
      record.violations = [match.kind === 'no-path' ? `no path of the swagger matches ${url.pathname}` : `${method} is not an operation of ${url.pathname}`];
    }

    const fault = faults.take(method, url.pathname);
    const sendFault = (rule: FaultRule & { kind: 'status' }): void => {
      const grpcCode = rule.grpcCode ?? grpcCodeForStatus(rule.status);
      send(rule.status, { code: grpcCode, message: rule.message ?? `injected failure ${rule.status}`, details: [] });
    };
    if (fault?.kind === 'status' && fault.afterEffect !== true) {
      record.fault = `status ${fault.status}`;
      sendFault(fault);
      return;
    }
    if (fault?.kind === 'hang' && fault.afterEffect !== true) {
      record.fault = 'hang';
      return; // Never answered; close() drops the connection.
    }

    try {
      const answer = await dispatch(match, record, json, form, url.searchParams, request.headers.authorization);
      if (fault?.kind === 'hang') {
        record.fault = 'hang after effect';
        return;
      }
      if (fault?.kind === 'status') {
        record.fault = `status ${fault.status} after effect`;
        sendFault(fault);
        return;
      }
      if (answer !== undefined && match.kind === 'found') record.responseViolations = validator.checkResponse(match.route, answer);
      if (fault?.kind === 'omit-fields') record.fault = `omitted ${fault.fields.join(', ')}`;
      send(200, fault?.kind === 'omit-fields' ? withoutFields(answer, fault.fields) : answer);
    } catch (error) {
      if (error instanceof MethodNotAllowed) {
        send(405, { code: GrpcCode.unimplemented, message: 'Method Not Allowed', details: [] });
      } else if (error instanceof ApiError) {
        send(error.httpStatus, error.body);
      } else {
        send(500, new ApiError(GrpcCode.internal, `emulator failure: ${(error as Error).stack ?? String(error)}`).body);
      }
    }
  }

  /** The answer of a request that no fault preempted: routing, then auth, then the swagger check, then the handler. */
  async function dispatch(match: RouteMatch, record: RequestRecord, json: unknown, form: FormData | undefined, query: URLSearchParams, authorization: string | undefined): Promise<unknown> {
    if (match.kind === 'no-path') throw new ApiError(GrpcCode.notFound, 'Not Found');
    if (match.kind === 'no-method') throw new MethodNotAllowed();
    if (authorization !== `Bearer ${options.apiKey}`) {
      throw new ApiError(GrpcCode.unauthenticated, authorization === undefined ? 'missing authorization header' : 'invalid API key');
    }
    const [violation] = record.violations;
    if (violation !== undefined) throw new ApiError(GrpcCode.invalidArgument, violation);
    const handler = handlers[match.route.operation.operationId];
    if (handler === undefined) throw new ApiError(GrpcCode.unimplemented, `${match.route.operation.operationId} is not emulated`);
    return handler({ params: match.params, query, json, form, operation: match.route.operation });
  }

  // A client that goes away mid-request leaves nothing to answer.
  server.on('request', (request, response) => {
    const subdomain = subdomainOf(request.headers.host, ingress.domains);
    if (subdomain !== undefined) serveThroughIngress(ingress, subdomain, request, response);
    else void handle(request, response).catch(() => response.destroy());
  });

  function engineOf(id: string): { workload: { pid: number } | undefined; engineId: string | undefined; logPath: string; port?: number | undefined } | undefined {
    return store.applications.get(id) ?? store.runs.get(id);
  }

  return {
    url: world.url,
    domain: world.domain,
    workspaceUrl: `http://localhost:${port}`,
    ingressAddress: world.domain,
    sessionCookie: ingress.sessionCookie,
    ingressRequests: ingress.log,
    setIngress: (settings) => {
      ingressSettings = { ...ingressSettings, ...settings };
    },
    apiKey: options.apiKey,
    projectsRoot,
    store,
    requests,
    setFaults: (settings) => faults.set(settings),
    processOf: (id) => {
      const engine = engineOf(id);
      if (engine?.workload === undefined) return undefined;
      return { pid: engine.workload.pid, engineId: engine.engineId, port: engine.port, logPath: engine.logPath };
    },
    readLog: (id) => {
      const engine = engineOf(id);
      if (engine === undefined) return '';
      try {
        return readFileSync(engine.logPath, 'utf8');
      } catch {
        return '';
      }
    },
    close: async () => {
      closing.abort();
      await Promise.all([...store.applications.values()].map((application) => stopApplication(world, application)));
      await Promise.all([...store.runs.values()].map((run) => stopJobRun(world, run)));
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

class MethodNotAllowed extends Error {}

/** The answer without the named fields, at its top and in the objects of its lists. */
function withoutFields(answer: unknown, fields: string[]): unknown {
  if (typeof answer !== 'object' || answer === null || answer instanceof Uint8Array) return answer;
  const strip = (value: unknown): unknown =>
    typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).filter(([key]) => !fields.includes(key))) : value;
  return Object.fromEntries(
    Object.entries(strip(answer) as Record<string, unknown>).map(([key, value]) => [key, Array.isArray(value) ? value.map(strip) : value]),
  );
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Parses a multipart body with the platform's own parser. */
async function parseForm(base: string, contentType: string, body: Buffer): Promise<FormData> {
  return new Request(base, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body) }).formData();
}
