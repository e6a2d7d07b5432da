// A saved spec written back as fields reads as the same spec: what --from-journal changes with --set and --compare.
import { describe, expect, it } from 'vitest';
import { clusterSpecSchema } from '../spec/schema.js';
import { specFieldsOf } from './spec-fields.js';

describe('specFieldsOf', () => {
  it('round-trips every field through the schema', () => {
    const spec = clusterSpecSchema.parse({
      name: 'big',
      ray: { version: '2.60.0', python: '/usr/bin/python3' },
      provider: { type: 'docker', image: 'ray:test', portOffset: 3 },
      head: { cpus: 0, memory: '2GiB', gcsPort: 7000 },
      workerGroups: [
        { name: 'worker', cpus: 2, min: 1, max: 6, resources: { TPU: 1 } },
        { name: 'gpu', cpus: 8, gpus: 1, max: 2, objectStoreMemory: '2GiB', runtimeIdentifier: 'cuda' },
      ],
      watcher: { interval: '250ms', cooldown: '0.29s', idleTimeout: '1m30s', launchTimeout: '5m', maxWorkers: 8, paused: true, headAddress: 'h:10001' },
      dashboard: { enabled: false, port: 9000 },
      simulation: { launchLatency: { median: '16.8s', p95: '24s' }, terminateLatency: { min: 1, max: 2 }, deathAfter: { mean: 60, sd: 10, min: 5 }, deathRate: 0.1, quota: { gpu: 1 }, prices: { gpu: 3 }, horizon: '2h' },
    });
    expect(clusterSpecSchema.parse(specFieldsOf(spec))).toEqual(spec);
    const sampled = clusterSpecSchema.parse({ simulation: { launchLatency: { samples: [1.5, '20s'] }, deathAfter: 7 } });
    expect(clusterSpecSchema.parse(specFieldsOf(sampled))).toEqual(sampled);
    expect(clusterSpecSchema.parse(specFieldsOf(clusterSpecSchema.parse({})))).toEqual(clusterSpecSchema.parse({}));
  });
});
