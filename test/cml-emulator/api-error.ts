// Errors as grpc-gateway answers them: an HTTP status derived from the gRPC code, and a `{code, message, details}` body.

/** The gRPC codes the emulator answers with. */
export const GrpcCode = {
  invalidArgument: 3,
  deadlineExceeded: 4,
  notFound: 5,
  alreadyExists: 6,
  permissionDenied: 7,
  resourceExhausted: 8,
  failedPrecondition: 9,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
  unauthenticated: 16,
} as const;

/** grpc-gateway's runtime.HTTPStatusFromCode. */
const HTTP_STATUS_BY_CODE: Record<number, number> = {
  1: 499,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 400,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  15: 500,
  16: 401,
};

/** The gRPC code an HTTP status most likely came from, for faults given as a status. */
const CODE_BY_HTTP_STATUS: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 501: 12, 502: 14, 503: 14, 504: 4 };

export class ApiError extends Error {
  constructor(
    readonly grpcCode: number,
    message: string,
  ) {
    super(message);
  }

  get httpStatus(): number {
    return HTTP_STATUS_BY_CODE[this.grpcCode] ?? 500;
  }

  /** The body: the swagger's `runtimeError`, in the form seen from a live workspace (no `error` field). */
  get body(): { code: number; message: string; details: unknown[] } {
    return { code: this.grpcCode, message: this.message, details: [] };
  }
}

export function grpcCodeForStatus(status: number): number {
  return CODE_BY_HTTP_STATUS[status] ?? GrpcCode.internal;
}
