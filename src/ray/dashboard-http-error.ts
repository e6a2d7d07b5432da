// A non-2xx answer of Ray's dashboard as an error that keeps its HTTP status, so callers decide on the number, not the words.
import { RayfleetError } from '../errors.js';

export class DashboardHttpError extends RayfleetError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('RAY_REQUEST_FAILED', message);
  }
}
