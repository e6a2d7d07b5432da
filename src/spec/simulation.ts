// The spec's `simulation:` section: how `rayfleet simulate` models the cluster's machines (launch and stop latency as distributions, failures, quotas, prices).
import { z } from 'zod';
import { isRayfleetError } from '../errors.js';
import { parseDuration } from './durations.js';

/** A distribution of durations in milliseconds: the spec's, the simulator's and the memory provider's one type. Samples are never negative. */
export type LatencyDistribution =
  | { kind: 'fixed'; ms: number }
  | { kind: 'uniform'; minMs: number; maxMs: number }
  /** Normal, cut at `minMs` (0 when absent): start-up times cluster around a mean with a few slow ones. */
  | { kind: 'normal'; meanMs: number; sdMs: number; minMs?: number }
  /** Log-normal by its median and 95th percentile: a long right tail, as cloud instance start-up has. */
  | { kind: 'lognormal'; medianMs: number; p95Ms: number }
  /** One of the measured samples, each equally likely. */
  | { kind: 'empirical'; samplesMs: number[] };

export interface SimulationSettings {
  /** From a worker's launch to its node alive in Ray; unset, the backend's default (Backend.simulation in each providers/<type>/<type>-backend.ts). */
  launchLatency: LatencyDistribution | undefined;
  /** From terminate to the node gone; unset, the provider's default. */
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

/** A duration as the spec writes them (`90s`, `5m`, plain seconds), in milliseconds. */
export function durationMs(description: string) {
  return z
    .union([z.number(), z.string()], { error: 'expected seconds, or a duration such as 500ms, 30s, 5m, 1h' })
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
  .union(
    [
      durationMs('always this long'),
      z.strictObject({ median: durationMs('half take less'), p95: durationMs('95 % take less') }).describe('log-normal'),
      z.strictObject({ min: durationMs('at least'), max: durationMs('at most') }).describe('uniform'),
      z.strictObject({ mean: durationMs('on average'), sd: durationMs('standard deviation'), min: durationMs('never less').optional() }).describe('normal'),
      z.strictObject({ samples: z.array(durationMs('one measured time')).min(1) }).describe('one of the measured times, each as likely'),
    ],
    { error: 'expected a duration (60s), or one of {median, p95}, {min, max}, {mean, sd, min?}, {samples: [...]}, each a duration' },
  )
  .transform((input): LatencyDistribution => {
    if (typeof input === 'number') return { kind: 'fixed', ms: input };
    if ('median' in input) return { kind: 'lognormal', medianMs: input.median, p95Ms: Math.max(input.p95, input.median) };
    if ('mean' in input) return { kind: 'normal', meanMs: input.mean, sdMs: input.sd, ...(input.min === undefined ? {} : { minMs: input.min }) };
    if ('samples' in input) return { kind: 'empirical', samplesMs: input.samples };
    return { kind: 'uniform', minMs: input.min, maxMs: Math.max(input.max, input.min) };
  });

const chance = (description: string) => z.number().min(0).max(1).default(0).describe(description);

/**
 * The defaults it names are each backend's (Backend.simulation, in providers/<type>/<type>-backend.ts, where the measurements are written
 * down); a real cluster ignores the section.
 */
export const simulationSettingsSchema = z
  .strictObject({
    launchLatency: latencySchema
      .optional()
      .describe(
        "from a worker's launch to its node alive in Ray, for the spec's provider (default: local log-normal median 16.8s p95 24s, measured on a loaded 2-core machine; docker median 19s p95 27s and cai median 90s p95 4m, assumptions; `simulate --from-journal` uses the cluster's own measured launches)",
      ),
    terminateLatency: latencySchema.optional().describe('from terminate to the node gone (default: local median 16.4s p95 17s, docker 12s/20s, cai 10s/30s)'),
    launchFailureRate: chance('the chance in [0, 1] that a launch fails (default 0)'),
    deathRate: chance('the chance in [0, 1] that a node dies by itself once it runs (default 0)'),
    deathAfter: latencySchema.optional().describe('how long after it starts running such a node dies (at once when absent)'),
    quota: z.record(z.string(), z.number().int().min(0)).default({}).describe('the most nodes a group may hold at once, by group; launches past it are refused as the provider would (default none)'),
    prices: z.record(z.string(), z.number().min(0)).default({}).describe('price per node-hour by group (head for the head); the report adds the cost (default none)'),
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
