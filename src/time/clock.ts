// Time as the watcher, the fleet and the providers read it: the system's, or a virtual one that the simulator and fault tests advance.
import { setTimeout as delay } from 'node:timers/promises';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or at once when the signal aborts (never rejects): a stop ends a wait, it is not an error. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Node's timers overflow past 2^31-1 ms and fire at once; every wait is clamped to this. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration made safe for a timer: not negative, not NaN, not past what a timer can hold. */
export function clampTimerMs(ms: number): number {
  if (!Number.isFinite(ms)) return Number.isNaN(ms) ? 0 : MAX_TIMER_MS;
  return Math.min(MAX_TIMER_MS, Math.max(0, Math.round(ms)));
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    if (signal?.aborted === true) return;
    await delay(clampTimerMs(ms), undefined, { signal }).catch(() => undefined);
  },
};
