// A Clock whose time moves only when told: fault tests and the simulator run hours of waits in milliseconds, in a fixed order.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RayfleetError } from '../errors.js';
import { clampTimerMs, type Clock } from './clock.js';
import { TimeOrderedQueue } from './time-ordered-queue.js';

export interface VirtualClockOptions {
  /** Where virtual time starts, ms since the epoch; 2026-01-01T00:00:00Z when absent, so runs print the same dates. */
  startMs?: number;
}

interface Timer {
  atMs: number;
  resolve: () => void;
  cancelled: boolean;
  signal: AbortSignal | undefined;
}

const DEFAULT_START_MS = Date.UTC(2026, 0, 1);
/** A loop that sleeps forever never lets `runUntilIdle` end; past this many timers it is taken for one. */
const DEFAULT_IDLE_LIMIT = 1_000_000;

/**
 * Virtual time. `sleep` registers a timer; `advance`, `advanceToNextTimer` and `runUntilIdle` fire timers in
 * time order, one at a time, and let every promise chain that a timer woke settle before the next one fires
 * (one macrotask turn drains the whole microtask queue). Code driven only by this clock and in-memory work
 * therefore runs the same way every time. Real I/O between timers is not waited for.
 */
export class VirtualClock implements Clock {
  private nowMs: number;
  /** Timers due at one instant fire in the order they were set; cancelled ones stay until they reach the front. */
  private readonly queue = new TimeOrderedQueue<Timer>();
  private live = 0;
  private readonly bySignal = new WeakMap<AbortSignal, Set<Timer>>();

  constructor(options: VirtualClockOptions = {}) {
    this.nowMs = options.startMs ?? DEFAULT_START_MS;
  }

  now(): number {
    return this.nowMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer: Timer = { atMs: this.nowMs + clampTimerMs(ms), resolve, cancelled: false, signal };
      if (signal !== undefined) this.watch(signal).add(timer);
      this.queue.put(timer.atMs, timer);
      this.live += 1;
    });
  }

  /**
   * The sleeping timers of one signal, with one abort listener for all of them: a loop that passes its signal to
   * thousands of sleeps adds no listener per sleep (and Node warns of none).
   */
  private watch(signal: AbortSignal): Set<Timer> {
    let timers = this.bySignal.get(signal);
    if (timers === undefined) {
      const watched = new Set<Timer>();
      timers = watched;
      this.bySignal.set(signal, watched);
      signal.addEventListener(
        'abort',
        () => {
          for (const timer of watched) {
            timer.cancelled = true;
            this.live -= 1;
            timer.resolve();
          }
          watched.clear();
        },
        { once: true },
      );
    }
    return timers;
  }

  /** Timers set and not yet fired or aborted. */
  get pendingTimers(): number {
    return this.live;
  }

  /** When the next timer is due, or undefined when none is set. */
  nextTimerAtMs(): number | undefined {
    return this.peek()?.atMs;
  }

  /** Moves time forward by `ms`, firing every timer due on the way in order, and settles what they woke. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.nowMs + Math.max(0, ms));
  }

  /** Moves time to `targetMs` (never backwards), firing every timer due by then. */
  async advanceTo(targetMs: number): Promise<void> {
    await settle();
    for (;;) {
      const next = this.peek();
      if (next === undefined || next.atMs > targetMs) break;
      await this.fireNext();
    }
    this.nowMs = Math.max(this.nowMs, targetMs);
    await settle();
  }

  /** Fires the earliest timer, moving time to it. False when no timer is set. */
  async advanceToNextTimer(): Promise<boolean> {
    await settle();
    if (this.peek() === undefined) return false;
    await this.fireNext();
    return true;
  }

  /**
   * Fires timers until none is set: for code that ends. A loop that sleeps forever fails with WAIT_TIMEOUT after
   * `limit` timers instead of hanging the test.
   */
  async runUntilIdle(limit = DEFAULT_IDLE_LIMIT): Promise<void> {
    let fired = 0;
    while (await this.advanceToNextTimer()) {
      fired += 1;
      if (fired >= limit && this.live > 0) {
        throw new RayfleetError('WAIT_TIMEOUT', `the virtual clock fired ${fired} timers and more are set: something sleeps in a loop (use advance() for it)`);
      }
    }
  }

  private async fireNext(): Promise<void> {
    const timer = this.pop();
    if (timer === undefined) return;
    this.nowMs = Math.max(this.nowMs, timer.atMs);
    this.live -= 1;
    timer.cancelled = true;
    if (timer.signal !== undefined) this.bySignal.get(timer.signal)?.delete(timer);
    timer.resolve();
    await settle();
  }

  private peek(): Timer | undefined {
    while (this.queue.peek()?.item.cancelled === true) this.queue.take();
    return this.queue.peek()?.item;
  }

  private pop(): Timer | undefined {
    this.peek();
    return this.queue.take()?.item;
  }
}

/** One macrotask turn: every microtask queued before it, and every one those queue, runs first. */
function settle(): Promise<void> {
  return nextTurn();
}
