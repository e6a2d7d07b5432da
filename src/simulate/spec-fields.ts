// A resolved ClusterSpec written back as rayfleet.yaml's fields: a saved spec that --set and --compare can change and the schema read again.
import type { ClusterSpec, NodeShape } from '../spec/schema.js';
import type { LatencyDistribution, SimulationSettings } from '../spec/simulation.js';

export function specFieldsOf(spec: ClusterSpec): Record<string, unknown> {
  const { watcher } = spec;
  return defined({
    name: spec.name,
    ray: defined({ ...spec.ray }),
    provider: defined({ ...spec.provider }),
    head: defined({ ...shapeFields(spec.head), gcsPort: spec.head.gcsPort, dashboardPort: spec.head.dashboardPort, clientPort: spec.head.clientPort, servePort: spec.head.servePort }),
    workerGroups: spec.workerGroups.map((group) => defined({ name: group.name, ...shapeFields(group), min: group.min, max: group.max, runtimeIdentifier: group.runtimeIdentifier })),
    watcher: defined({
      enabled: watcher.enabled,
      interval: ms(watcher.intervalMs),
      pendingThreshold: watcher.pendingThreshold,
      cooldown: ms(watcher.cooldownMs),
      idleTimeout: ms(watcher.idleTimeoutMs),
      maxWorkers: watcher.maxWorkers,
      launchTimeout: watcher.launchTimeoutMs === undefined ? undefined : ms(watcher.launchTimeoutMs),
      paused: watcher.paused,
      headAddress: watcher.headAddress,
      dashboardMetricApi: watcher.dashboardMetricApi,
    }),
    dashboard: { ...spec.dashboard },
    simulation: spec.simulation === undefined ? undefined : simulationFieldsOf(spec.simulation),
  });
}

export function simulationFieldsOf(settings: SimulationSettings): Record<string, unknown> {
  return defined({
    launchLatency: latencyFields(settings.launchLatency),
    terminateLatency: latencyFields(settings.terminateLatency),
    launchFailureRate: settings.launchFailureRate,
    deathRate: settings.deathRate,
    deathAfter: latencyFields(settings.deathAfter),
    quota: { ...settings.quota },
    prices: { ...settings.prices },
    horizon: settings.horizonMs === undefined ? undefined : ms(settings.horizonMs),
  });
}

function latencyFields(latency: LatencyDistribution | undefined): unknown {
  if (latency === undefined) return undefined;
  switch (latency.kind) {
    case 'fixed':
      return ms(latency.ms);
    case 'uniform':
      return { min: ms(latency.minMs), max: ms(latency.maxMs) };
    case 'normal':
      return defined({ mean: ms(latency.meanMs), sd: ms(latency.sdMs), min: latency.minMs === undefined ? undefined : ms(latency.minMs) });
    case 'lognormal':
      return { median: ms(latency.medianMs), p95: ms(latency.p95Ms) };
    case 'empirical':
      return { samples: latency.samplesMs.map(ms) };
  }
}

function shapeFields(shape: NodeShape): Record<string, unknown> {
  return { cpus: shape.cpus, gpus: shape.gpus, memory: shape.memoryBytes, objectStoreMemory: shape.objectStoreMemoryBytes, resources: { ...shape.resources } };
}

/** Milliseconds as a duration the schema reads back exactly (plain numbers are seconds, and ms / 1000 is not always exact). */
function ms(value: number): string {
  return `${value}ms`;
}

function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}
