// What the simulated machines do: launch and stop latency per provider, launch failures, quotas, deaths and prices, with their defaults.
import { z } from 'zod';
import { isRayfleetError } from '../errors.js';
import type { LatencyDistribution } from '../providers/memory/latency.js';
import { parseDuration } from '../spec/durations.js';
import type { ProviderSpec } from '../spec/schema.js';

export interface SimulationSettings {
  /** From a worker's launch to its node alive in Ray; unset, the provider's default below. */
  launchLatency: LatencyDistribution | undefined;
  /** From terminate to the node gone; unset, the provider's default below. */
  terminateLatency: LatencyDistribution | undefined;
  /** Chance in [0, 1] that a launch fails. */
  launchFailureRate: number;
  /** Chance in [0, 1] that a node dies by itself once it runs, `deathAfter` later. */
  deathRate: number;
  deathAfter: LatencyDistribution | undefined;
  /** The most nodes a group may hold at once; launches past it are refused as a quota. */
  quota: Record<string, number>;
  /** Price per node-hour by group (`head` for the head): the report gives the cost where a price is set. */
  prices: Record<string, number>;
  /** How long after the first arrival the simulation runs; unset, until the last work ends plus the time to scale down. */
  horizonMs: number | undefined;
}

/**
 * Launch → alive in Ray, and terminate → gone, by provider. Local was measured on the development machine
 * (2 cores shared with other work, load average about 12; 5 rounds of a worker's `ray start --block` to alive in the
 * GCS: 15.1, 16.8, 16.8, 20.1, 24.0 s; SIGTERM to its process group gone: 16.1–17.0 s, the measurement's SIGKILL after
 * 15 s ending each, where LocalProvider waits up to 30 s). Docker is an assumption: the local times plus a container's start. Cloudera AI is an assumption too:
 * a CML application is scheduled, its pod started, then `ray start` runs, which the emulator cannot time.
 * Set `simulation.launchLatency` to what your machines take.
 */
export const DEFAULT_LATENCIES: Record<ProviderSpec['type'], { launch: LatencyDistribution; terminate: LatencyDistribution }> = {
  local: { launch: { kind: 'lognormal', medianMs: 16_800, p95Ms: 24_000 }, terminate: { kind: 'lognormal', medianMs: 16_400, p95Ms: 17_000 } },
  docker: { launch: { kind: 'lognormal', medianMs: 19_000, p95Ms: 27_000 }, terminate: { kind: 'lognormal', medianMs: 12_000, p95Ms: 20_000 } },
  cai: { launch: { kind: 'lognormal', medianMs: 90_000, p95Ms: 240_000 }, terminate: { kind: 'lognormal', medianMs: 10_000, p95Ms: 30_000 } },
};

/** A duration as the spec writes them (`90s`, `5m`, plain seconds), in milliseconds. */
export function durationMs(description: string) {
  return z
    .union([z.number(), z.string()])
    .describe(`${description}: seconds, or a duration such as 500ms, 30s, 5m, 1h`)
    .transform((input, context) => {
      try {
        return parseDuration(input);
      } catch (error) {
        context.addIssue({ code: 'custom', message: isRayfleetError(error) ? error.message : String(error) });
        return z.NEVER;
      }
    });
}

/** A distribution as a person writes it: one duration, min/max, median/p95, mean/sd, or measured samples. */
export const latencySchema = z
  .union([
    durationMs('always this long'),
    z.strictObject({ median: durationMs('half take less'), p95: durationMs('95 % take less') }).describe('log-normal'),
    z.strictObject({ min: durationMs('at least'), max: durationMs('at most') }).describe('uniform'),
    z.strictObject({ mean: durationMs('on average'), sd: durationMs('standard deviation'), min: durationMs('never less').optional() }).describe('normal'),
    z.strictObject({ samples: z.array(durationMs('one measured time')).min(1) }).describe('one of the measured times, each as likely'),
  ])
  .transform((input): LatencyDistribution => {
    if (typeof input === 'number') return { kind: 'fixed', ms: input };
    if ('median' in input) return { kind: 'lognormal', medianMs: input.median, p95Ms: Math.max(input.p95, input.median) };
    if ('mean' in input) return { kind: 'normal', meanMs: input.mean, sdMs: input.sd, ...(input.min === undefined ? {} : { minMs: input.min }) };
    if ('samples' in input) return { kind: 'empirical', samplesMs: input.samples };
    return { kind: 'uniform', minMs: input.min, maxMs: Math.max(input.max, input.min) };
  });

const chance = (description: string) => z.number().min(0).max(1).default(0).describe(description);

export const simulationSettingsSchema = z
  .strictObject({
    launchLatency: latencySchema.optional().describe('from a launch to the node alive in Ray (default by provider: local ~17 s as measured on a loaded 2-core machine, docker ~19 s, cai ~90 s)'),
    terminateLatency: latencySchema.optional().describe('from terminate to the node gone (default by provider)'),
    launchFailureRate: chance('the chance a launch fails'),
    deathRate: chance('the chance a node dies by itself once it runs'),
    deathAfter: latencySchema.optional().describe('how long after it starts running such a node dies (at once when absent)'),
    quota: z.record(z.string(), z.number().int().min(0)).default({}).describe('the most nodes a group may hold at once, by group'),
    prices: z.record(z.string(), z.number().min(0)).default({}).describe('price per node-hour by group (head for the head)'),
    horizon: durationMs('how long after the first arrival to simulate (default: until the work is done and the cluster has scaled down)').optional(),
  })
  .transform(
    (input): SimulationSettings => ({
      launchLatency: input.launchLatency,
      terminateLatency: input.terminateLatency,
      launchFailureRate: input.launchFailureRate,
      deathRate: input.deathRate,
      deathAfter: input.deathAfter,
      quota: input.quota,
      prices: input.prices,
      horizonMs: input.horizon,
    }),
  );
