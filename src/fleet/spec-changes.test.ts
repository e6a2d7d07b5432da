import { describe, expect, it } from 'vitest';
import { clusterSpecSchema } from '../spec/schema.js';
import { applyDeclaredSpec, diffSpecs } from './spec-changes.js';

const spec = (extra: object) => clusterSpecSchema.parse({ name: 'sim', workerGroups: [{ name: 'worker', cpus: 1, min: 0, max: 2 }], ...extra });

describe('the simulation section of a running cluster', () => {
  it('is a live change: `up` saves what the file now says, added, changed or taken away', () => {
    const none = spec({});
    const slow = spec({ simulation: { launchLatency: '30s' } });
    const fast = spec({ simulation: { launchLatency: '5s' } });
    expect(diffSpecs(none, slow).map((change) => [change.field.split('.')[0], change.live])).toEqual([['simulation', true]]);
    expect(applyDeclaredSpec(none, slow).spec.simulation).toEqual(slow.simulation);
    expect(applyDeclaredSpec(slow, fast).spec.simulation).toEqual(fast.simulation);
    expect('simulation' in applyDeclaredSpec(slow, none).spec).toBe(false);
    expect(diffSpecs(fast, fast)).toEqual([]);
  });
});

describe('a change as the diff shows it', () => {
  it("names each field as rayfleet.yaml does and shows its value in the file's units, as the field table says", () => {
    const before = spec({ watcher: { interval: '1s' }, workerGroups: [{ name: 'gpu', objectStoreMemory: '1GiB' }] });
    const after = spec({ watcher: { interval: '90s' }, workerGroups: [{ name: 'gpu', objectStoreMemory: '2GiB' }] });
    expect(diffSpecs(before, after).map(({ field, saved, declared }) => `${field}: ${saved} → ${declared}`)).toEqual([
      'watcher.interval: 1s → 1m30s',
      'workerGroups[gpu].objectStoreMemory: 1 GiB → 2 GiB',
    ]);
  });
});
