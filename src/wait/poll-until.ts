// Waiting for a real condition: poll it until it holds, with a deadline and an AbortSignal.
import { setTimeout as delay } from 'node:timers/promises';
import { RayfleetError, type ErrorCode } from '../errors.js';

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  signal?: AbortSignal | undefined;
  /** What is awaited, for the timeout message: "ray-worker-2 to register in the GCS". */
  describe: () => string;
  /** The error code on timeout. */
  timeoutCode?: ErrorCode;
  /** Errors that end the wait at once instead of being retried: the condition can no longer hold. */
  isFatal?: (error: unknown) => boolean;
}

/**
 * Calls `check` until it returns a value other than undefined and returns that value.
 * A check that throws is retried (unless `isFatal` says otherwise); its last error is attached to the timeout.
 */
export async function pollUntil<T>(check: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await check();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (error) {
      if (options.isFatal?.(error) === true) throw error;
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new RayfleetError(options.timeoutCode ?? 'WAIT_TIMEOUT', `timed out after ${Math.round(options.timeoutMs / 1000)} s waiting for ${options.describe()}`, {
        cause: lastError,
      });
    }
    await delay(Math.min(options.intervalMs ?? 250, Math.max(0, deadline - Date.now())), undefined, { signal: options.signal });
  }
}
