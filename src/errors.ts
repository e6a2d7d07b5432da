// Every failure rayfleet reports: a stable code, a message a person can act on, and the cause.

/** Exit codes of the CLI, as DESIGN.md fixes them. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  timedOut: 4,
  unreachable: 5,
  interrupted: 130,
  terminated: 143,
} as const;

/** Each error code and the exit code it maps to; a new code without an exit code does not compile. */
const exitCodeByErrorCode = {
  USAGE: ExitCode.usage,
  SPEC_INVALID: ExitCode.usage,
  SPEC_NOT_FOUND: ExitCode.notFound,
  CLUSTER_NOT_FOUND: ExitCode.notFound,
  /** `simulate --from-journal` of a cluster whose watcher recorded nothing to replay. */
  HISTORY_EMPTY: ExitCode.notFound,
  NODE_NOT_FOUND: ExitCode.notFound,
  NODE_BUSY: ExitCode.failure,
  NODE_START_FAILED: ExitCode.failure,
  NODE_START_TIMEOUT: ExitCode.timedOut,
  WAIT_TIMEOUT: ExitCode.timedOut,
  PORT_IN_USE: ExitCode.failure,
  CLUSTER_EXISTS: ExitCode.failure,
  CLUSTER_RECORD_DAMAGED: ExitCode.failure,
  PYTHON_NOT_FOUND: ExitCode.failure,
  RUNTIME_INSTALL_FAILED: ExitCode.failure,
  RAY_NOT_INSTALLED: ExitCode.failure,
  RAY_UNREACHABLE: ExitCode.unreachable,
  RAY_REQUEST_FAILED: ExitCode.failure,
  PROVIDER_FAILED: ExitCode.failure,
  NODE_RECORD_UNREADABLE: ExitCode.failure,
  DOCKER_UNREACHABLE: ExitCode.unreachable,
  /** An SSH host of the pool does not answer: its nodes are unknown, not gone. */
  HOST_UNREACHABLE: ExitCode.unreachable,
  /** No host of the pool has room for a node's shape. */
  HOSTS_FULL: ExitCode.failure,
  /** A host's Ray or Python is not the head's (Ray refuses mismatched Python patch versions). */
  RUNTIME_MISMATCH: ExitCode.failure,
  DOCKER_FAILED: ExitCode.failure,
  IMAGE_NOT_FOUND: ExitCode.notFound,
  CAI_AUTH: ExitCode.failure,
  CAI_NOT_FOUND: ExitCode.notFound,
  CAI_QUOTA: ExitCode.failure,
  CAI_UNAVAILABLE: ExitCode.unreachable,
  CAI_FAILED: ExitCode.failure,
  LOCK_HELD: ExitCode.failure,
  WATCHER_FAILED: ExitCode.failure,
  /** A group, or the cluster's maxWorkers, has no room for the workers asked: a usage error, as asking for too many is. */
  GROUP_AT_MAX: ExitCode.usage,
  GROUP_NOT_FOUND: ExitCode.notFound,
  UNAUTHORIZED: ExitCode.failure,
  ROUTE_NOT_FOUND: ExitCode.notFound,
  DASHBOARD_FAILED: ExitCode.failure,
  JOB_NOT_FOUND: ExitCode.notFound,
  JOB_FAILED: ExitCode.failure,
  JOB_PACKAGE_TOO_LARGE: ExitCode.usage,
  SERVE_CONFIG_INVALID: ExitCode.usage,
  SERVE_APP_NOT_FOUND: ExitCode.notFound,
  DEPLOY_FAILED: ExitCode.failure,
  SERVE_CONFLICT: ExitCode.failure,
  INTERRUPTED: ExitCode.interrupted,
} as const;

export type ErrorCode = keyof typeof exitCodeByErrorCode;

export class RayfleetError extends Error {
  override readonly name = 'RayfleetError';
  readonly code: ErrorCode;
  /** Extra lines a person needs to act: a log tail, a hint. Printed after the message. */
  readonly details: string | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  get exitCode(): number {
    return exitCodeByErrorCode[this.code];
  }
}

export function isRayfleetError(error: unknown, code?: ErrorCode): error is RayfleetError {
  return error instanceof RayfleetError && (code === undefined || error.code === code);
}

/** The exit code a failure maps to: the error's own for ours, 1 for anything else. */
export function exitCodeOf(error: unknown): number {
  return error instanceof RayfleetError ? error.exitCode : ExitCode.failure;
}

/** The message of any thrown value, for wrapping causes into our errors. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
