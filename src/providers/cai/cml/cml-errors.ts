// What a failed CML API call means: whether to retry it, and the RayfleetError it becomes.
import { RayfleetError, type ErrorCode, messageOf } from '../../../errors.js';
import type { RuntimeError } from './cml-types.js';

/**
 * `never`: retrying cannot help. `safe`: the server did nothing (429, connection refused), so repeating is harmless.
 * `unknown`: the server may have acted (timeout, 5xx, dropped connection); a create must look before it repeats.
 */
export type RetryVerdict = 'never' | 'safe' | 'unknown';

type FailureKind = 'auth' | 'not-found' | 'quota' | 'rate-limited' | 'server' | 'network' | 'timeout' | 'rejected';

export interface CallFailure {
  kind: FailureKind;
  retry: RetryVerdict;
  /** The HTTP status, when an answer came. */
  status: number | undefined;
  /** The API's `message`, or what the network said. */
  reason: string;
  cause?: unknown;
}

const QUOTA_MESSAGE = /quota|insufficient/i;
/** gRPC RESOURCE_EXHAUSTED, which grpc-gateway answers with HTTP 429. */
const GRPC_RESOURCE_EXHAUSTED = 8;
const RETRIED_SERVER_STATUSES = new Set([500, 502, 503, 504]);
const REASON_CHARS = 300;

/** The failure an HTTP answer other than 2xx stands for. */
export function failureFromAnswer(status: number, text: string): CallFailure {
  const body = parseErrorBody(text);
  const reason = reasonIn(body, text);
  if (QUOTA_MESSAGE.test(reason) || (body?.code === GRPC_RESOURCE_EXHAUSTED && status !== 429)) {
    return { kind: 'quota', retry: 'never', status, reason };
  }
  if (status === 429) return { kind: 'rate-limited', retry: 'safe', status, reason };
  if (status === 401 || status === 403) return { kind: 'auth', retry: 'never', status, reason };
  if (status === 404) return { kind: 'not-found', retry: 'never', status, reason };
  if (RETRIED_SERVER_STATUSES.has(status)) return { kind: 'server', retry: 'unknown', status, reason };
  return { kind: 'rejected', retry: 'never', status, reason };
}

/** The failure of a request that got no answer. */
export function failureFromNetwork(error: unknown, timedOutAfterMs: number | undefined): CallFailure {
  if (timedOutAfterMs !== undefined) {
    return { kind: 'timeout', retry: 'unknown', status: undefined, reason: `no answer within ${timedOutAfterMs} ms`, cause: error };
  }
  const cause = (error as { cause?: unknown }).cause ?? error;
  const code = (cause as NodeJS.ErrnoException).code;
  // Refused or unresolved: the request never reached the API, so nothing happened there.
  const neverArrived = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
  return { kind: 'network', retry: neverArrived ? 'safe' : 'unknown', status: undefined, reason: messageOf(cause), cause: error };
}

/** The answer is 2xx but not the JSON the swagger promises. */
export function failureFromBadBody(text: string, error: unknown): CallFailure {
  return { kind: 'rejected', retry: 'never', status: undefined, reason: `the answer is not JSON: ${text.slice(0, REASON_CHARS)}`, cause: error };
}

export interface CallContext {
  host: string;
  method: string;
  path: string;
  attempts: number;
  maskedKey: string;
  /** Said when a create failed in a way that may have taken effect and could not be checked. */
  outcomeUnknown?: boolean;
}

const CODE_BY_KIND: Record<FailureKind, ErrorCode> = {
  auth: 'CAI_AUTH',
  'not-found': 'CAI_NOT_FOUND',
  quota: 'CAI_QUOTA',
  'rate-limited': 'CAI_QUOTA',
  server: 'CAI_UNAVAILABLE',
  network: 'CAI_UNAVAILABLE',
  timeout: 'CAI_UNAVAILABLE',
  rejected: 'CAI_FAILED',
};

export function errorOf(failure: CallFailure, context: CallContext): RayfleetError {
  const what = failure.status === undefined ? failure.reason : `answered ${failure.status}: ${failure.reason}`;
  const tries = context.attempts > 1 ? ` (after ${context.attempts} attempts)` : '';
  const unknown = context.outcomeUnknown === true ? '; whether it took effect is unknown' : '';
  const message = `CML API at ${context.host}: ${context.method} ${context.path} ${what}${tries}${unknown}`;
  return new RayfleetError(CODE_BY_KIND[failure.kind], message, { cause: failure.cause, details: hintFor(failure, context) });
}

function hintFor(failure: CallFailure, context: CallContext): string | undefined {
  switch (failure.kind) {
    case 'auth':
      return `The API key ${context.maskedKey} was refused. Check CML_API_KEY (or CDSW_APIV2_KEY), that it has not expired, and that its user may use this project.`;
    case 'quota':
    case 'rate-limited':
      return 'The workspace or your user is out of quota (or the API is throttling): stop other workloads, ask for more quota, or ask for smaller nodes.';
    case 'server':
    case 'network':
    case 'timeout':
      return `Check that ${context.host} is reachable from here and that the workspace is healthy; set RAYFLEET_HTTP_TRACE=FILE to record every request.`;
    default:
      return undefined;
  }
}

function parseErrorBody(text: string): RuntimeError | undefined {
  try {
    const body: unknown = JSON.parse(text);
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as RuntimeError) : undefined;
  } catch {
    return undefined;
  }
}

function reasonIn(body: RuntimeError | undefined, text: string): string {
  const said = body?.message ?? body?.error;
  if (typeof said === 'string' && said !== '') return body?.code === undefined ? said : `${said} (code ${body.code})`;
  return text.trim() === '' ? 'no message' : text.trim().slice(0, REASON_CHARS);
}
