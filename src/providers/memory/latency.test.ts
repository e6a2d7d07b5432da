// Latency samples: each distribution gives what its parameters say, never negative, the same for the same seed.
import { describe, expect, it } from 'vitest';
import type { LaunchRequest } from '../node-provider.js';
import type { LatencyDistribution } from '../../spec/simulation.js';
import { sampleLatency } from './latency.js';
import { seededRandom } from './seeded-random.js';

const request: LaunchRequest = { name: 'ray-worker-1', role: 'worker', group: 'worker', index: 1, resources: { cpus: 1, gpus: 0, custom: {} }, env: {} };

function samples(latency: LatencyDistribution, count = 4_000, seed = 3): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => sampleLatency(latency, request, random)).sort((a, b) => a - b);
}

const at = (sorted: number[], quantile: number): number => sorted[Math.floor(quantile * (sorted.length - 1))] ?? Number.NaN;

describe('sampleLatency', () => {
  it('gives fixed and plain numbers as they are, and never a negative time', () => {
    const random = seededRandom(1);
    expect(sampleLatency(1_500, request, random)).toBe(1_500);
    expect(sampleLatency(-5, request, random)).toBe(0);
    expect(sampleLatency({ kind: 'fixed', ms: 20 }, request, random)).toBe(20);
    expect(sampleLatency((launch) => (launch.group === 'worker' ? 7 : 9), request, random)).toBe(7);
  });

  it('keeps uniform samples in their range, spread across it', () => {
    const sorted = samples({ kind: 'uniform', minMs: 1_000, maxMs: 3_000 });
    expect(sorted[0]).toBeGreaterThanOrEqual(1_000);
    expect(sorted.at(-1)).toBeLessThan(3_000);
    expect(at(sorted, 0.5)).toBeGreaterThan(1_900);
    expect(at(sorted, 0.5)).toBeLessThan(2_100);
  });

  it('centres normal samples on the mean and cuts them at the minimum', () => {
    const sorted = samples({ kind: 'normal', meanMs: 10_000, sdMs: 2_000, minMs: 7_000 });
    expect(sorted[0]).toBe(7_000);
    expect(at(sorted, 0.5)).toBeGreaterThan(9_800);
    expect(at(sorted, 0.5)).toBeLessThan(10_200);
    expect(at(sorted, 0.84)).toBeGreaterThan(11_700);
    expect(at(sorted, 0.84)).toBeLessThan(12_300);
  });

  it('gives log-normal samples the median and 95th percentile asked for', () => {
    const sorted = samples({ kind: 'lognormal', medianMs: 30_000, p95Ms: 90_000 }, 8_000);
    expect(at(sorted, 0.5) / 30_000).toBeGreaterThan(0.95);
    expect(at(sorted, 0.5) / 30_000).toBeLessThan(1.05);
    expect(at(sorted, 0.95) / 90_000).toBeGreaterThan(0.9);
    expect(at(sorted, 0.95) / 90_000).toBeLessThan(1.1);
  });

  it('picks empirical samples from the measured ones, each about as often', () => {
    const sorted = samples({ kind: 'empirical', samplesMs: [100, 200, 300, 400] });
    const counts = [100, 200, 300, 400].map((value) => sorted.filter((sample) => sample === value).length);
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(sorted.length);
    for (const count of counts) expect(count).toBeGreaterThan(900);
  });

  it('repeats for a seed and differs across seeds', () => {
    const latency: LatencyDistribution = { kind: 'lognormal', medianMs: 1_000, p95Ms: 5_000 };
    expect(samples(latency, 50, 11)).toEqual(samples(latency, 50, 11));
    expect(samples(latency, 50, 11)).not.toEqual(samples(latency, 50, 12));
  });
});
