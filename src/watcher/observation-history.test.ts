// The observation history: what it writes, what it skips, how it thins, and that a reader in another process sees it.
import { appendFile, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Observation } from './observation.js';
import { ObservationHistory, ObservationHistoryReader, historyFile, historyPointOf, parseHistory, resample, type HistoryPoint } from './observation-history.js';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const HOUR = 3_600_000;

async function stateDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'rf-history-'));
}

function point(atMs: number, values: Record<string, number>): HistoryPoint {
  return { atMs, values };
}

describe('historyPointOf', () => {
  it('counts workers per group and phase and demand per shape, gang bundles included', () => {
    const observation = {
      atMs: T0,
      workers: [
        { name: 'a', group: 'worker', phase: 'registered' },
        { name: 'b', group: 'worker', phase: 'registered' },
        { name: 'c', group: 'worker', phase: 'launching' },
        { name: 'd', group: 'gpu', phase: 'draining' },
      ],
      demand: { shapes: [{ shape: { CPU: 1 }, count: 3 }], gangs: [{ id: 'pg', strategy: 'ANY', bundles: [{ CPU: 1 }, { GPU: 1 }] }], constraints: [] },
    } as unknown as Observation;
    expect(historyPointOf(observation)).toEqual({
      atMs: T0,
      values: { 'nodes/worker/registered': 2, 'nodes/worker/launching': 1, 'nodes/gpu/draining': 1, 'demand/{CPU: 1}': 4, 'demand/{GPU: 1}': 1 },
    });
  });
});

describe('ObservationHistory', () => {
  it('writes a point only when it changed, at most one a second, and reads back what it wrote after a restart', async () => {
    const dir = await stateDir();
    const history = await ObservationHistory.open(dir, T0);
    await history.append(point(T0, { 'nodes/worker/registered': 2 }));
    await history.append(point(T0 + 400, { 'nodes/worker/registered': 3 }));
    await history.append(point(T0 + 1000, { 'nodes/worker/registered': 2 }));
    await history.append(point(T0 + 2000, { 'nodes/worker/registered': 2, 'demand/{CPU: 1}': 0 }));
    await history.append(point(T0 + 3000, { 'nodes/worker/registered': 3, 'demand/{CPU: 1}': 5 }));
    const text = await readFile(historyFile(dir), 'utf8');
    expect(text.trim().split('\n')).toHaveLength(4);
    const restarted = await ObservationHistory.open(dir, T0 + 4000);
    // The same values after the restart write nothing; a new series gets an index of its own.
    await restarted.append(point(T0 + 4000, { 'nodes/worker/registered': 3, 'demand/{CPU: 1}': 5 }));
    await restarted.append(point(T0 + 5000, { 'nodes/gpu/launching': 1 }));
    expect(parseHistory(await readFile(historyFile(dir), 'utf8'))).toEqual([
      point(T0, { 'nodes/worker/registered': 2 }),
      point(T0 + 3000, { 'nodes/worker/registered': 3, 'demand/{CPU: 1}': 5 }),
      point(T0 + 5000, { 'nodes/gpu/launching': 1 }),
    ]);
  });

  it('writes an unchanged point once a minute, so a stopped watcher reads as a gap', async () => {
    const dir = await stateDir();
    const history = await ObservationHistory.open(dir, T0);
    for (let second = 0; second <= 130; second += 1) await history.append(point(T0 + second * 1000, { 'nodes/worker/registered': 1 }));
    expect(parseHistory(await readFile(historyFile(dir), 'utf8')).map((entry) => (entry.atMs - T0) / 1000)).toEqual([0, 60, 120]);
    const window = resample(parseHistory(await readFile(historyFile(dir), 'utf8')), { sinceMs: T0, untilMs: T0 + 600_000, stepMs: 60_000 });
    // Up to 150 s after the last point the value holds; after that nothing was observed.
    expect(window.series['nodes/worker/registered']).toEqual([1, 1, 1, 1, 1, null, null, null, null, null, null]);
  });

  it('heals a line torn by a crash in the same write as the next point', async () => {
    const dir = await stateDir();
    const history = await ObservationHistory.open(dir, T0);
    await history.append(point(T0, { 'nodes/worker/registered': 1 }));
    await appendFile(historyFile(dir), '[1764547201,0');
    const restarted = await ObservationHistory.open(dir, T0 + 5000);
    await restarted.append(point(T0 + 5000, { 'nodes/worker/registered': 4 }));
    expect(parseHistory(await readFile(historyFile(dir), 'utf8'))).toEqual([point(T0, { 'nodes/worker/registered': 1 }), point(T0 + 5000, { 'nodes/worker/registered': 4 })]);
  });

  it('keeps 24 h at 1 s in a few MB, thins older points to a minute (keeping the peak) and drops them after a week', async () => {
    const dir = await stateDir();
    const lines: string[] = [['k', 0, 'nodes/worker/registered'], ['k', 1, 'demand/{CPU: 1}']].map((entry) => JSON.stringify(entry));
    // Two days, every second a change: the worst case for size.
    const days = 2;
    const start = T0 - days * 24 * HOUR;
    for (let second = 0; second < days * 86_400; second += 1) lines.push(JSON.stringify([start / 1000 + second, 0, 1 + (second % 7), 1, 10 + (second % 13)]));
    await writeFile(historyFile(dir), `${lines.join('\n')}\n`);
    await ObservationHistory.open(dir, T0);
    const points = parseHistory(await readFile(historyFile(dir), 'utf8'));
    const recent = points.filter((entry) => entry.atMs >= T0 - 24 * HOUR);
    const older = points.filter((entry) => entry.atMs < T0 - 24 * HOUR);
    expect(recent).toHaveLength(86_400);
    expect(older).toHaveLength(24 * 60);
    expect(older[0]).toEqual(point(start, { 'nodes/worker/registered': 7, 'demand/{CPU: 1}': 22 }));
    expect((await stat(historyFile(dir))).size).toBeLessThan(4 * 2 ** 20);
    // Six days on, the day kept at 1 s is thinned too and the day before it has gone.
    await ObservationHistory.open(dir, T0 + 6 * 24 * HOUR);
    const later = parseHistory(await readFile(historyFile(dir), 'utf8'));
    expect(later[0]?.atMs).toBe(T0 - 24 * HOUR);
    expect(later).toHaveLength(24 * 60);
  });
});

describe('ObservationHistoryReader', () => {
  it('sees what is appended after its first read, and reads a thinned (rewritten) file again from its start', async () => {
    const dir = await stateDir();
    const reader = new ObservationHistoryReader(historyFile(dir));
    expect((await reader.query({ sinceMs: T0, untilMs: T0 + 2000, stepMs: 1000 })).series).toEqual({});
    const history = await ObservationHistory.open(dir, T0);
    await history.append(point(T0, { 'nodes/worker/registered': 1 }));
    expect((await reader.query({ sinceMs: T0, untilMs: T0 + 2000, stepMs: 1000 })).series['nodes/worker/registered']).toEqual([1, 1, 1]);
    await history.append(point(T0 + 2000, { 'nodes/worker/registered': 3 }));
    expect((await reader.query({ sinceMs: T0, untilMs: T0 + 2000, stepMs: 1000 })).series['nodes/worker/registered']).toEqual([1, 1, 3]);
    await ObservationHistory.open(dir, T0 + 8 * 24 * HOUR);
    expect((await reader.query({ sinceMs: T0, untilMs: T0 + 2000, stepMs: 1000 })).series).toEqual({});
  });
});

describe('resample', () => {
  it('takes each series at its highest within a bucket and carries it over quiet buckets', () => {
    const points = [point(T0, { a: 1 }), point(T0 + 1000, { a: 4, b: 2 }), point(T0 + 2000, { a: 2 }), point(T0 + 9000, { a: 5 })];
    const window = resample(points, { sinceMs: T0, untilMs: T0 + 10_000, stepMs: 5000 });
    expect(window.times).toEqual([T0, T0 + 5000, T0 + 10_000]);
    expect(window.series).toEqual({ a: [4, 5, 5], b: [2, 0, 0] });
  });

  it('widens the step so no window has more than 2000 buckets', () => {
    const window = resample([], { sinceMs: T0, untilMs: T0 + 24 * HOUR, stepMs: 1000 });
    expect(window.times.length).toBeLessThanOrEqual(2001);
    expect(window.stepMs).toBe(44_000);
  });
});
