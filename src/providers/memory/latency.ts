// How long something takes in the memory provider: a fixed time, a distribution sampled from a seeded source, or a function.
import type { LatencyDistribution } from '../../spec/simulation.js';
import type { LaunchRequest } from '../node-provider.js';
import type { Random } from './seeded-random.js';

/** A latency: milliseconds, a distribution, or a function of the node being launched or stopped. */
export type Latency = number | LatencyDistribution | ((request: LaunchRequest, random: Random) => number);

/** z for the 95th percentile of a standard normal. */
const Z95 = 1.6448536269514722;

export function sampleLatency(latency: Latency, request: LaunchRequest, random: Random): number {
  if (typeof latency === 'number') return Math.max(0, latency);
  if (typeof latency === 'function') return Math.max(0, latency(request, random));
  return Math.max(0, sampleDistribution(latency, random));
}

export function sampleDistribution(distribution: LatencyDistribution, random: Random): number {
  switch (distribution.kind) {
    case 'fixed':
      return distribution.ms;
    case 'uniform':
      return distribution.minMs + (distribution.maxMs - distribution.minMs) * random();
    case 'normal':
      return Math.max(distribution.minMs ?? 0, distribution.meanMs + distribution.sdMs * standardNormal(random));
    case 'lognormal': {
      const mu = Math.log(Math.max(distribution.medianMs, 1e-9));
      const sigma = Math.max(0, Math.log(Math.max(distribution.p95Ms, distribution.medianMs) / Math.max(distribution.medianMs, 1e-9)) / Z95);
      return Math.exp(mu + sigma * standardNormal(random));
    }
    case 'empirical':
      return distribution.samplesMs[Math.floor(random() * distribution.samplesMs.length)] ?? 0;
  }
}

/** Box–Muller: two uniforms make one standard normal (the second is dropped, so each call uses exactly two draws). */
function standardNormal(random: Random): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
