import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isRayfleetError } from '../errors.js';
import { MemoryProvider } from '../providers/memory/memory-provider.js';
import { SimulatedRay } from '../simulate/simulated-ray.js';
import { loadSpec } from '../spec/load-spec.js';
import { rayfleetErrorOf } from '../../test/support/caught.js';
import { Fleet } from './fleet.js';

const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fleet over the memory provider and a simulated GCS, with its state in a temp dir: no Ray, no processes. */
async function memoryFleet(yaml: string, backend?: { provider: MemoryProvider; ray: SimulatedRay }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rf-fleet-'));
  dirs.push(dir);
  const provider = backend?.provider ?? new MemoryProvider();
  const ray = backend?.ray ?? new SimulatedRay({ provider, drainExitMs: 0 });
  const open = async (text: string) => {
    const { spec } = await loadSpec({ cwd: dir, configPath: await write(dir, text), env: {} });
    return Fleet.open({ spec, stateDir: path.join(dir, 'state'), backend: { provider, gcs: ray }, nodeStartTimeoutMs: 5_000 });
  };
  return { fleet: await open(yaml), reopen: open, provider, ray };
}

async function write(dir: string, text: string): Promise<string> {
  const file = path.join(dir, 'rayfleet.yaml');
  await (await import('node:fs/promises')).writeFile(file, text);
  return file;
}

const SPEC = ['name: mem', 'workerGroups:', '  - { name: worker, min: 1, max: 3 }', 'watcher: { enabled: false, idleTimeout: 1s }', ''].join('\n');

describe('Fleet on the memory provider', () => {
  it('brings up the head and each min, each registered in Ray, and takes them all down', async () => {
    const { fleet, provider } = await memoryFleet(SPEC);
    const status = await fleet.up();
    expect(status.nodes.map((node) => [node.name, node.ray?.status])).toEqual([
      ['mem-head', 'IDLE'],
      ['mem-worker-1', 'IDLE'],
    ]);
    const { events } = await fleet.events();
    expect(events.map((event) => event.type)).toEqual(['launch', 'registered', 'launch', 'registered', 'cluster-up']);
    await fleet.down();
    expect(await provider.list()).toEqual([]);
    expect(await fleet.exists()).toBe(false);
  });

  it('enforces max under the launch lock: eight concurrent add-workers on a group of max 3 make exactly two more', async () => {
    const { fleet, provider } = await memoryFleet(SPEC);
    await fleet.up();
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => fleet.addWorkers({ count: 1 })));
    const refused = results.filter((result) => result.status === 'rejected');
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(2);
    expect(refused.every((result) => isRayfleetError(result.reason, 'GROUP_AT_MAX'))).toBe(true);
    const names = (await provider.list()).map((instance) => instance.name);
    expect(names).toEqual(['mem-head', 'mem-worker-1', 'mem-worker-2', 'mem-worker-3']);
  });

  it('adds all or none: 3 where 2 fit is refused naming the room left, and launches nothing', async () => {
    const { fleet, provider } = await memoryFleet(SPEC);
    await fleet.up();
    const launchesBefore = provider.calls.launch;
    const error = await rayfleetErrorOf(() => fleet.addWorkers({ count: 3 }));
    expect(error).toMatchObject({ code: 'GROUP_AT_MAX', exitCode: 2, message: expect.stringContaining('room for 2 more workers, not 3') });
    expect(provider.calls.launch).toBe(launchesBefore);
    expect((await rayfleetErrorOf(() => fleet.addWorkers({ group: 'tpu' })))).toMatchObject({ code: 'GROUP_NOT_FOUND', exitCode: 3 });
    expect((await fleet.addWorkers({ count: 2 })).map((instance) => instance.name)).toEqual(['mem-worker-2', 'mem-worker-3']);
  });

  it("returns once the launches are the provider's with wait: 'launched', and once Ray has the nodes by default", async () => {
    const { fleet } = await memoryFleet(SPEC);
    await fleet.up();
    const launched = await fleet.addWorkers({ wait: 'launched' });
    const registeredNow = async () => (await fleet.events()).events.filter((event) => event.type === 'registered').map((event) => event.node);
    expect(launched.map((instance) => instance.name)).toEqual(['mem-worker-2']);
    expect(await registeredNow()).not.toContain('mem-worker-2');
    await fleet.addWorkers();
    expect(await registeredNow()).toContain('mem-worker-3');
  });

  it('stops a worker only after Ray accepts the drain: a busy one is refused and left running', async () => {
    const { fleet, provider, ray } = await memoryFleet(SPEC);
    await fleet.up();
    await fleet.addWorkers();
    ray.submit({ kind: 'actor', shape: { CPU: 1 }, durationMs: Number.POSITIVE_INFINITY, count: 2 });
    const busy = ray.units().flatMap((unit) => unit.nodes).find((name) => name !== 'mem-head');
    expect(busy).toBeDefined();
    const terminatesBefore = provider.calls.terminate;
    expect((await rayfleetErrorOf(() => fleet.removeWorker(busy ?? ''))).code).toBe('NODE_BUSY');
    expect(provider.calls.terminate).toBe(terminatesBefore);
    expect((await provider.list()).some((instance) => instance.name === busy)).toBe(true);
    // Forced: drained as a preemption (never refused), then stopped once.
    await fleet.removeWorker(busy ?? '', { force: true });
    expect(provider.calls.terminate).toBe(terminatesBefore + 1);
    expect(ray.drains.map((drain) => [drain.reason, drain.accepted])).toEqual([
      ['IDLE_TERMINATION', false],
      ['IDLE_TERMINATION', false],
      ['PREEMPTION', true],
    ]);
  });

  it('drains an idle worker, then stops it exactly once', async () => {
    const { fleet, provider, ray } = await memoryFleet(SPEC);
    await fleet.up();
    await fleet.removeWorker('mem-worker-1');
    expect(ray.drains.map((drain) => [drain.instanceId, drain.reason, drain.accepted])).toEqual([['mem-worker-1', 'IDLE_TERMINATION', true]]);
    expect(provider.calls.terminate).toBe(1);
    const { events } = await fleet.events();
    expect(events.slice(-2).map((event) => event.type)).toEqual(['drain', 'terminate']);
  });

  it('applies live changes of a running cluster and refuses the rest with the field-by-field diff', async () => {
    const first = await memoryFleet(SPEC);
    await first.fleet.up();
    const raised = await first.reopen(SPEC.replace('min: 1, max: 3', 'min: 2, max: 4').replace('idleTimeout: 1s', 'idleTimeout: 30s'));
    expect(raised.specDiff().map((change) => change.field)).toEqual(['watcher.idleTimeout', 'workerGroups[worker].min', 'workerGroups[worker].max']);
    await raised.up();
    expect(raised.spec.workerGroups[0]).toMatchObject({ min: 2, max: 4 });
    expect(raised.spec.watcher.idleTimeoutMs).toBe(30_000);
    const changed = (await raised.events()).events.filter((event) => event.type === 'spec-changed');
    expect(changed).toMatchObject([{ by: 'cli', fields: ['watcher.idleTimeout', 'workerGroups[worker].min', 'workerGroups[worker].max'] }]);
    // With the watcher off, up itself brings the raised min.
    expect((await first.provider.list()).map((instance) => instance.name)).toContain('mem-worker-2');

    const moved = await first.reopen(SPEC.replace('name: mem', 'name: mem\nhead: { gcsPort: 7777, cpus: 2 }'));
    const error = await rayfleetErrorOf(() => moved.up());
    expect(error.code).toBe('USAGE');
    expect(error.details).toBe('  head.cpus: 1 → 2  (needs a restart)\n  head.gcsPort: (unset) → 7777  (needs a restart)\nrun `rayfleet restart` to apply');
    const reopened = await first.reopen(SPEC);
    expect(reopened.spec.workerGroups[0]).toMatchObject({ min: 2, max: 4 });
  });

  it('restart applies the declared spec: more workers from a flag-sized group', async () => {
    const first = await memoryFleet(SPEC);
    await first.fleet.up();
    const bigger = await first.reopen(SPEC.replace('min: 1, max: 3', 'min: 3, max: 3'));
    await bigger.restart();
    expect((await first.provider.list()).map((instance) => instance.name)).toEqual(['mem-head', 'mem-worker-1', 'mem-worker-2', 'mem-worker-3']);
  });

  it('refuses a live patch that would break the spec, naming the field', async () => {
    const { fleet } = await memoryFleet(SPEC);
    await fleet.up();
    const error = await rayfleetErrorOf(() => fleet.applyLiveChanges({ groups: [{ name: 'worker', min: 5 }] }, 'api'));
    expect(error.code).toBe('SPEC_INVALID');
    expect(error.details).toContain('workerGroups[worker].min: 5 is more than max 3');
    const changes = await fleet.applyLiveChanges({ watcher: { paused: true } }, 'api');
    expect(changes.map((change) => change.field)).toEqual(['watcher.paused']);
  });
});
