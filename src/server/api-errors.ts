// Errors as the API answers them: JSON `{code, message, details}` with the HTTP status that fits the code.
import type { ErrorCode } from '../errors.js';
import { RayfleetError, isRayfleetError, messageOf } from '../errors.js';

export type ErrorStatus = 400 | 401 | 404 | 409 | 500 | 503;

export interface ErrorAnswer {
  code: string;
  message: string;
  details: string | null;
  issues?: Array<{ path: string; message: string }>;
}

const statusByCode: Partial<Record<ErrorCode, ErrorStatus>> = {
  USAGE: 400,
  SPEC_INVALID: 400,
  UNAUTHORIZED: 401,
  CLUSTER_NOT_FOUND: 404,
  NODE_NOT_FOUND: 404,
  GROUP_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  NODE_BUSY: 409,
  GROUP_AT_MAX: 409,
  LOCK_HELD: 409,
  CLUSTER_EXISTS: 409,
  CLUSTER_RECORD_DAMAGED: 409,
  // The backend failed or did not answer in time: the request may work again, and the document says so.
  RAY_UNREACHABLE: 503,
  RAY_REQUEST_FAILED: 503,
  DOCKER_UNREACHABLE: 503,
  DOCKER_FAILED: 503,
  CAI_UNAVAILABLE: 503,
  CAI_FAILED: 503,
  CAI_QUOTA: 503,
  PROVIDER_FAILED: 503,
  NODE_START_FAILED: 503,
  NODE_START_TIMEOUT: 503,
  WAIT_TIMEOUT: 503,
  RUNTIME_INSTALL_FAILED: 503,
};

/** The codes answered with a status, for the OpenAPI document's description of it. */
export function codesAnsweredWith(status: ErrorStatus): ErrorCode[] {
  return (Object.entries(statusByCode) as Array<[ErrorCode, ErrorStatus]>).filter(([, answered]) => answered === status).map(([code]) => code);
}

/** The status and body for any thrown value; what is not ours is a 500 that names no internals. */
export function errorAnswer(error: unknown): { status: ErrorStatus; body: ErrorAnswer } {
  if (isRayfleetError(error)) {
    return { status: statusByCode[error.code] ?? 500, body: { code: error.code, message: error.message, details: error.details ?? null } };
  }
  return { status: 500, body: { code: 'INTERNAL', message: `unexpected failure: ${messageOf(error)}`, details: null } };
}

export function apiError(code: ErrorCode, message: string, details?: string): RayfleetError {
  return new RayfleetError(code, message, details === undefined ? {} : { details });
}
