import { describe, expect, it } from 'vitest';
import { RayfleetError, isRayfleetError } from '../errors.js';
import { pollUntil } from './poll-until.js';

describe('pollUntil', () => {
  it('returns the first defined value, retrying errors in between', async () => {
    let calls = 0;
    const value = await pollUntil(
      async () => {
        calls += 1;
        if (calls === 1) throw new Error('not yet');
        return calls === 3 ? 'done' : undefined;
      },
      { timeoutMs: 5000, intervalMs: 1, describe: () => 'the test' },
    );
    expect(value).toBe('done');
    expect(calls).toBe(3);
  });

  it('times out with the given code, naming what it waited for and keeping the last error', async () => {
    const error = await pollUntil(
      async () => {
        throw new Error('still down');
      },
      { timeoutMs: 30, intervalMs: 5, describe: () => 'the head', timeoutCode: 'NODE_START_TIMEOUT' },
    ).catch((caught: unknown) => caught);
    expect(isRayfleetError(error, 'NODE_START_TIMEOUT')).toBe(true);
    expect((error as RayfleetError).message).toMatch(/waiting for the head/);
    expect(((error as RayfleetError).cause as Error).message).toBe('still down');
  });

  it('stops at once on a fatal error', async () => {
    let calls = 0;
    const started = Date.now();
    const error = await pollUntil(
      async () => {
        calls += 1;
        throw new RayfleetError('NODE_START_FAILED', 'exited');
      },
      { timeoutMs: 10_000, intervalMs: 1, describe: () => 'x', isFatal: (caught) => isRayfleetError(caught, 'NODE_START_FAILED') },
    ).catch((caught: unknown) => caught);
    expect(isRayfleetError(error, 'NODE_START_FAILED')).toBe(true);
    expect(calls).toBe(1);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await expect(pollUntil(async () => undefined, { timeoutMs: 10_000, intervalMs: 5, signal: controller.signal, describe: () => 'x' })).rejects.toThrow();
  });
});
