// A client of Ray's dashboard HTTP API: version, cluster status and nodes, with the cluster's token; the requests the Jobs and Serve clients make.
import { RayfleetError, messageOf } from '../errors.js';
import { httpRequest } from '../net/http-request.js';
import { DashboardHttpError } from './dashboard-http-error.js';
import { pollUntil } from '../wait/poll-until.js';

export interface DashboardClientOptions {
  /** e.g. http://127.0.0.1:8265 */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` (or in `authHeader`); with token auth on, Ray answers 401 without it and 403 to a wrong one. */
  authToken?: string | undefined;
  /** The header the token travels in: `authorization` unless a proxy in between takes that one (a front door: `x-ray-authorization`). */
  authHeader?: string | undefined;
  /** Headers every request carries besides the token (a proxy's own credential). */
  headers?: Record<string, string> | undefined;
  /** host:port to connect to for the base URL's host, where its name does not resolve here. */
  connectTo?: string | undefined;
  /** The largest body the way to the dashboard takes (an ingress's limit): a package over it fails before it is sent. */
  maxBodyBytes?: number | undefined;
  /** Throws when an answer did not come from the dashboard's side (an ingress's login page): checked before the status is read. */
  checkAnswer?: ((answer: DashboardAnswer) => void) | undefined;
  /** How long one request may take; 5 s when absent. */
  requestTimeoutMs?: number | undefined;
}

/** GET /api/version. */
export interface DashboardVersion {
  version: string;
  ray_version: string;
  ray_commit: string;
  session_name: string;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One request to the dashboard; a body is JSON (`json`) or raw bytes (`bytes`, a package's zip). */
export interface DashboardRequest {
  method?: HttpMethod | undefined;
  json?: unknown;
  bytes?: Uint8Array | undefined;
  signal?: AbortSignal | undefined;
  /** How long this request may take, instead of the client's: an upload of a large package takes longer. */
  timeoutMs?: number | undefined;
}

/** Any HTTP answer: for the APIs where a status such as 404 is an answer (no such job, a package not uploaded yet). */
export interface DashboardAnswer {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
const POLL_INTERVAL_MS = 300;
const BODY_EXCERPT_CHARS = 300;

export class DashboardClient {
  readonly baseUrl: string;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: DashboardClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  async version(signal?: AbortSignal): Promise<DashboardVersion> {
    return this.getJson('/api/version', signal);
  }

  /** The autoscaler's status and load, Ray's envelope as is: `{ result, msg, data: { autoscalingStatus, autoscalingError, clusterStatus } }`. */
  async clusterStatus(signal?: AbortSignal): Promise<unknown> {
    return this.getJson('/api/cluster_status', signal);
  }

  /** Every node with its host's stats, Ray's envelope as is: `{ result, msg, data: { summary, nodeLogicalResources } }`. */
  async nodes(signal?: AbortSignal): Promise<unknown> {
    return this.getJson('/nodes?view=summary', signal);
  }

  /** Polls /api/version until the dashboard answers; a refused token fails at once instead of waiting out the time. */
  async waitUntilUp(timeoutMs: number, signal?: AbortSignal): Promise<DashboardVersion> {
    const outcome = await pollUntil(
      async (): Promise<{ version: DashboardVersion } | { refused: RayfleetError }> => {
        const answer = await this.send('/api/version', { signal });
        if (answer.status === 401 || answer.status === 403) return { refused: this.httpError('GET', '/api/version', answer) };
        return { version: this.parse<DashboardVersion>('GET', '/api/version', answer) };
      },
      { timeoutMs, intervalMs: POLL_INTERVAL_MS, signal, describe: () => `Ray's dashboard at ${this.baseUrl} to answer` },
    );
    if ('refused' in outcome) throw outcome.refused;
    return outcome.version;
  }

  /** One request whose answer must be a 2xx with JSON; anything else is RAY_REQUEST_FAILED with Ray's message. */
  async requestJson<T>(path: string, request: DashboardRequest = {}): Promise<T> {
    return this.parse<T>(request.method ?? 'GET', path, await this.send(path, request));
  }

  private async getJson<T>(path: string, signal: AbortSignal | undefined): Promise<T> {
    return this.requestJson<T>(path, { signal });
  }

  /** One request: any HTTP answer comes back; no answer is RAY_UNREACHABLE, and the caller's abort its own reason. */
  async send(path: string, request: DashboardRequest = {}): Promise<DashboardAnswer> {
    const method = request.method ?? 'GET';
    const headers: Record<string, string> = { ...this.options.headers, accept: 'application/json' };
    if (this.options.authToken !== undefined) headers[this.options.authHeader ?? 'authorization'] = `Bearer ${this.options.authToken}`;
    let body: string | Uint8Array | undefined;
    const { maxBodyBytes } = this.options;
    if (request.bytes !== undefined && maxBodyBytes !== undefined && request.bytes.byteLength > maxBodyBytes) {
      throw new RayfleetError('JOB_PACKAGE_TOO_LARGE', `${method} ${path} would send ${mebibytes(request.bytes.byteLength)} MiB, over the ${mebibytes(maxBodyBytes)} MiB that the way to ${this.baseUrl} takes; nothing was uploaded`, {
        details: 'Put it where the cluster can fetch it (an https:// or s3:// URI) and name that URI instead, or raise the limit where the ingress allows more (provider.frontDoorBodyLimit).',
      });
    }
    if (request.bytes !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = request.bytes;
    } else if (request.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(request.json);
    }
    const timeoutMs = request.timeoutMs ?? this.requestTimeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const { signal } = request;
    let answer: DashboardAnswer;
    try {
      answer = await httpRequest(`${this.baseUrl}${path}`, { method, headers, body, connectTo: this.options.connectTo, signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) });
    } catch (error) {
      if (signal?.aborted === true) throw signal.reason;
      const why = timeout.aborted ? `no answer within ${timeoutMs} ms` : messageOf((error as Error).cause ?? error);
      throw new RayfleetError('RAY_UNREACHABLE', `cannot reach Ray's dashboard at ${this.baseUrl} (${method} ${path}): ${why}`, { cause: error });
    }
    this.options.checkAnswer?.(answer);
    return answer;
  }

  /** An answer's JSON, when it is a 2xx with JSON; anything else is RAY_REQUEST_FAILED with Ray's message. */
  parse<T>(method: HttpMethod, path: string, answer: DashboardAnswer): T {
    if (answer.status < 200 || answer.status >= 300) throw this.httpError(method, path, answer);
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch (error) {
      throw new RayfleetError('RAY_REQUEST_FAILED', `Ray's dashboard at ${this.baseUrl} sent no JSON for ${method} ${path}: ${excerpt(answer.text)}`, { cause: error });
    }
    // The dashboard's modules answer 200 with `result: false` for some failures.
    if (isEnvelope(body) && body.result === false) {
      throw new RayfleetError('RAY_REQUEST_FAILED', `Ray's dashboard at ${this.baseUrl} failed ${method} ${path}: ${body.msg ?? 'no message'}`);
    }
    return body as T;
  }

  /** The error a non-2xx answer is: the status, what a 401 or 403 means, and Ray's own message. */
  httpError(method: HttpMethod, path: string, answer: DashboardAnswer): DashboardHttpError {
    const hint = answer.status === 401 ? ': the auth token is missing' : answer.status === 403 ? ': the auth token is wrong' : '';
    return new DashboardHttpError(answer.status, `Ray's dashboard at ${this.baseUrl} answered ${answer.status} to ${method} ${path}${hint} (${rayMessageIn(answer.text)})`);
  }
}

function isEnvelope(body: unknown): body is { result: unknown; msg?: string } {
  return typeof body === 'object' && body !== null && 'result' in body;
}

/** The `msg` of Ray's JSON envelope, the exception of a Python traceback (the Jobs API answers failures with one), else the start of the body. */
export function rayMessageIn(text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    if (isEnvelope(body) && typeof body.msg === 'string' && body.msg !== '') return body.msg;
  } catch {
    // Not JSON: Ray's auth middleware answers in plain text.
  }
  if (text.includes('Traceback (most recent call last)')) {
    const last = text.trim().split('\n').at(-1)?.trim();
    if (last !== undefined && last !== '') return excerpt(last);
  }
  return excerpt(text);
}

function mebibytes(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1).replace(/\.0$/, '');
}

function excerpt(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return 'empty body';
  return trimmed.length > BODY_EXCERPT_CHARS ? `${trimmed.slice(0, BODY_EXCERPT_CHARS)}…` : trimmed;
}
