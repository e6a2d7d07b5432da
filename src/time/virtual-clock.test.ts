// VirtualClock: timers fire in time order only when time is moved, and the code they wake runs before the next one.
import { describe, expect, it } from 'vitest';
import { isRayfleetError } from '../errors.js';
import { VirtualClock } from './virtual-clock.js';

describe('VirtualClock', () => {
  it('starts at a fixed instant and moves only when advanced', async () => {
    const clock = new VirtualClock({ startMs: 1_000 });
    expect(clock.now()).toBe(1_000);
    await clock.advance(250);
    expect(clock.now()).toBe(1_250);
    expect(new VirtualClock().now()).toBe(Date.UTC(2026, 0, 1));
  });

  it('resolves a sleep only once its time is reached', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    let woke = false;
    void clock.sleep(5 * 60_000).then(() => (woke = true));
    await clock.advance(5 * 60_000 - 1);
    expect(woke).toBe(false);
    await clock.advance(1);
    expect(woke).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('fires timers in time order, then in the order they were set, each at its own instant', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const fired: string[] = [];
    const at = (name: string, ms: number): void => void clock.sleep(ms).then(() => fired.push(`${name}@${clock.now()}`));
    at('c', 300);
    at('a', 100);
    at('b1', 200);
    at('b2', 200);
    await clock.advance(1_000);
    expect(fired).toEqual(['a@100', 'b1@200', 'b2@200', 'c@300']);
    expect(clock.now()).toBe(1_000);
  });

  it('lets the code a timer wakes run, and set new timers, before a later timer fires', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const seen: number[] = [];
    const loop = async (): Promise<void> => {
      for (let tick = 0; tick < 3; tick += 1) {
        await Promise.resolve();
        await clock.sleep(1_000);
        seen.push(clock.now());
      }
    };
    const done = loop();
    let late = -1;
    void clock.sleep(2_500).then(() => (late = seen.length));
    await clock.advance(10_000);
    await done;
    expect(seen).toEqual([1_000, 2_000, 3_000]);
    // The loop's second wake (at 2 s) ran and set its next timer before the 2.5 s timer fired.
    expect(late).toBe(2);
  });

  it('resolves a sleep at once when its signal aborts, and an aborted signal does not wait at all', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const controller = new AbortController();
    let woke = false;
    void clock.sleep(60_000, controller.signal).then(() => (woke = true));
    expect(clock.pendingTimers).toBe(1);
    controller.abort();
    await Promise.resolve();
    expect(woke).toBe(true);
    expect(clock.now()).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(clock.nextTimerAtMs()).toBeUndefined();
    await clock.sleep(60_000, controller.signal);
    expect(clock.pendingTimers).toBe(0);
  });

  it('wakes every sleep of one signal when it aborts, with one listener for them all', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const controller = new AbortController();
    let added = 0;
    const addEventListener = controller.signal.addEventListener.bind(controller.signal);
    controller.signal.addEventListener = (...args: Parameters<AbortSignal['addEventListener']>) => {
      added += 1;
      addEventListener(...args);
    };
    let woke = 0;
    for (let sleep = 0; sleep < 50; sleep += 1) void clock.sleep(1_000 + sleep, controller.signal).then(() => (woke += 1));
    await clock.advance(1_010);
    expect(woke).toBe(11);
    controller.abort();
    await Promise.resolve();
    expect(woke).toBe(50);
    expect(added).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('advances to the next timer, one at a time', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    void clock.sleep(40);
    void clock.sleep(10);
    expect(clock.nextTimerAtMs()).toBe(10);
    expect(await clock.advanceToNextTimer()).toBe(true);
    expect(clock.now()).toBe(10);
    expect(await clock.advanceToNextTimer()).toBe(true);
    expect(clock.now()).toBe(40);
    expect(await clock.advanceToNextTimer()).toBe(false);
    expect(clock.now()).toBe(40);
  });

  it('runs until no timer is set, and stops a loop that sleeps forever', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    let steps = 0;
    const chain = async (): Promise<void> => {
      while (steps < 5) {
        await clock.sleep(100);
        steps += 1;
      }
    };
    const done = chain();
    await clock.runUntilIdle();
    await done;
    expect(steps).toBe(5);
    expect(clock.now()).toBe(500);

    const forever = new AbortController();
    void (async () => {
      while (!forever.signal.aborted) await clock.sleep(1, forever.signal);
    })();
    const error = await clock.runUntilIdle(50).catch((caught: unknown) => caught);
    expect(isRayfleetError(error, 'WAIT_TIMEOUT')).toBe(true);
    forever.abort();
  });

  it('clamps waits a real timer could not hold', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    void clock.sleep(-5);
    void clock.sleep(Number.POSITIVE_INFINITY);
    expect(clock.nextTimerAtMs()).toBe(0);
    await clock.advanceToNextTimer();
    expect(clock.nextTimerAtMs()).toBe(2 ** 31 - 1);
  });
});
