// The simulated machines' defaults by provider: launch and stop latency, as measured here or stated as assumptions.
import type { LatencyDistribution } from '../providers/memory/latency.js';
import type { ProviderSpec } from '../spec/schema.js';
import type { LatencySpec } from '../spec/simulation.js';

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

/** The spec's distributions are the memory provider's: a kind added to one and not the other does not compile. */
type SameType<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
true satisfies SameType<LatencySpec, LatencyDistribution>;
