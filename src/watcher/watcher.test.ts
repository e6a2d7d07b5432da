import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryProvider, type MemoryFaults } from '../providers/memory/memory-provider.js';
import { simulatedCluster } from '../simulate/simulated-cluster.js';
import { SimulatedRay } from '../simulate/simulated-ray.js';
import { clusterSpecSchema, type ClusterSpec } from '../spec/schema.js';
import { VirtualClock } from '../time/virtual-clock.js';
import { Watcher } from './watcher.js';

/** The real watcher over a cluster that exists only in memory, on a clock the test moves. */
function watched(watcher: Record<string, unknown> = {}, group: Record<string, unknown> = {}, faults: MemoryFaults = {}, drainExitMs = 500) {
  const clock = new VirtualClock({ startMs: Date.parse('2026-01-01T00:00:00Z') });
  const provider = new MemoryProvider({ clock, launchLatency: 2_000, faults });
  const ray = new SimulatedRay({ provider, clock, registrationDelay: 1_000, drainExitMs });
  const spec: ClusterSpec = clusterSpecSchema.parse({
    name: 'sim',
    workerGroups: [{ name: 'worker', cpus: 1, min: 0, max: 6, ...group }],
    watcher: { idleTimeout: '10s', ...watcher },
  });
  const simulated = simulatedCluster({ spec, provider, ray, clock, stateDir: mkdtempSync(path.join(os.tmpdir(), 'rf-watcher-')) });
  let instance = new Watcher({ cluster: simulated.cluster, clock });
  /** Ticks every second of virtual time for `seconds`. */
  const run = async (seconds: number, tickSpec: ClusterSpec = spec) => {
    for (let second = 0; second < seconds; second += 1) {
      // A tick may wait on the clock (drained nodes until Ray has them DEAD): time moves on while it does.
      let ended = false;
      const ticking = instance.tick(tickSpec).finally(() => {
        ended = true;
      });
      await clock.advance(1_000);
      while (!ended) await clock.advance(250);
      await ticking;
    }
  };
  /** A watcher process killed and started again: a new Watcher that knows only what the journal says. */
  const restart = async () => {
    instance = new Watcher({ cluster: simulated.cluster, clock });
    const stop = new AbortController();
    const running = instance.run(stop.signal);
    while (!simulated.events.some((event) => event.type === 'watcher' && event.reason.startsWith('started'))) await clock.advance(0);
    stop.abort();
    await running;
  };
  return { clock, provider, ray, spec, events: simulated.events, run, restart };
}

describe('Watcher', () => {
  it('launches exactly the nodes a burst needs, once, and drains them back to min when idle', async () => {
    const { provider, ray, events, run } = watched();
    ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 3, durationMs: 5_000 });
    await run(5);
    expect(provider.calls.launch).toBe(3);
    await run(30);
    expect(ray.units().every((unit) => unit.finishedAtMs !== undefined)).toBe(true);
    expect(provider.calls.launch).toBe(3);
    expect(await provider.list()).toEqual([]);
    expect(events.filter((event) => event.type === 'drain')).toHaveLength(3);
    expect(events.filter((event) => event.type === 'terminate')).toHaveLength(3);
  });

  it('drains several idle nodes in the same tick, in parallel', async () => {
    const { provider, ray, events, run, clock } = watched();
    ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 4, durationMs: 1_000 });
    await run(20);
    const drains = events.filter((event) => event.type === 'drain');
    expect(drains).toHaveLength(4);
    expect(new Set(drains.map((event) => event.time)).size).toBe(1);
    expect(await provider.list()).toEqual([]);
    expect(clock.now()).toBeGreaterThan(0);
  });

  it("drains as Ray's autoscaler does: one DrainNode call at a time, and each node stopped only once Ray has it DEAD", async () => {
    const { provider, ray, events, run } = watched();
    let inFlight = 0;
    let mostInFlight = 0;
    const drainNode = ray.drainNode.bind(ray);
    ray.drainNode = async (...args) => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      // A real call takes a round trip: another caller would overlap it here.
      await new Promise((resolve) => setImmediate(resolve));
      try {
        return await drainNode(...args);
      } finally {
        inFlight -= 1;
      }
    };
    ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 4, durationMs: 1_000 });
    await run(25);
    expect(ray.drains.map((drain) => drain.accepted)).toEqual([true, true, true, true]);
    expect(mostInFlight).toBe(1);
    expect(new Set(ray.drains.map((drain) => drain.instanceId)).size).toBe(4);
    const drainedAt = new Map(events.flatMap((event) => (event.type === 'drain' ? [[event.node, Date.parse(event.time)] as const] : [])));
    const stops = events.filter((event) => event.type === 'terminate');
    expect(stops).toHaveLength(4);
    // The simulated raylet exits 500 ms after its drain: no stop comes before that.
    for (const stop of stops) expect(Date.parse(stop.time) - (drainedAt.get(stop.type === 'terminate' ? stop.node : '') ?? Infinity)).toBeGreaterThanOrEqual(500);
    expect(await provider.list()).toEqual([]);
  });

  it('stops a drained node that Ray never has DEAD once the deadline passes, and drains nothing twice meanwhile', async () => {
    const { provider, ray, events, run } = watched({}, {}, {}, 3_600_000);
    ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 1, durationMs: 1_000 });
    await run(40);
    expect(ray.drains).toHaveLength(1);
    const drain = events.find((event) => event.type === 'drain');
    const stop = events.find((event) => event.type === 'terminate');
    expect(stop?.type === 'terminate' && stop.reason).toMatch(/Ray does not have it DEAD 15 s after its drain/);
    expect(Date.parse(stop?.time ?? '') - Date.parse(drain?.time ?? '')).toBeGreaterThanOrEqual(15_000);
    expect(provider.calls.terminate).toBe(1);
    expect(await provider.list()).toEqual([]);
  });

  it('with head.faultTolerance, restarts a dead head once the provider has it gone, launches and drains nothing meanwhile, and backs off when it dies again', async () => {
    const clock = new VirtualClock({ startMs: Date.parse('2026-01-01T00:00:00Z') });
    const provider = new MemoryProvider({ clock, launchLatency: 2_000 });
    const ray = new SimulatedRay({ provider, clock, registrationDelay: 1_000, drainExitMs: 500 });
    const spec = clusterSpecSchema.parse({ name: 'sim', head: { faultTolerance: true }, workerGroups: [{ name: 'worker', cpus: 1, min: 0, max: 4 }], watcher: { idleTimeout: '10s' } });
    const simulated = simulatedCluster({ spec, provider, ray, clock, stateDir: mkdtempSync(path.join(os.tmpdir(), 'rf-watcher-')) });
    const head = { name: 'sim-head', role: 'head' as const, group: 'head', index: 0, resources: { cpus: 0, gpus: 0, custom: {} }, env: {} };
    const restarts: number[] = [];
    const cluster = {
      ...simulated.cluster,
      // As LocalProvider.restartHead: nothing while the old head runs; else the same request again, and the GCS back.
      restartHead: async () => {
        if ((await provider.list()).some((instance) => instance.name === 'sim-head' && instance.state === 'running')) return false;
        await provider.terminate('sim-head');
        await provider.launch(head);
        ray.unreachable = false;
        restarts.push(clock.now());
        return true;
      },
    };
    await provider.launch(head);
    await clock.advance(3_000);
    const watcher = new Watcher({ cluster, clock });
    const run = async (seconds: number) => {
      for (let second = 0; second < seconds; second += 1) {
        await watcher.tick(spec);
        await clock.advance(1_000);
      }
    };
    await run(2);
    provider.kill('sim-head');
    ray.unreachable = true;
    ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 2, durationMs: 60_000 });
    await run(1);
    expect(simulated.events.filter((event) => event.type === 'head-died')).toHaveLength(1);
    expect(restarts).toHaveLength(1);
    expect(provider.calls.launch).toBe(2);
    await run(5);
    expect(simulated.events.filter((event) => event.type === 'head-restarted')).toHaveLength(1);
    // The GCS is back: the demand waiting on it is met.
    expect(provider.calls.launch).toBe(4);
    const diedAgainAt = clock.now();
    provider.kill('sim-head');
    ray.unreachable = true;
    await run(3);
    // A second death in a row waits FIRST_RETRY_MS (5 s) before its restart.
    expect(restarts).toHaveLength(1);
    await run(4);
    expect(restarts).toHaveLength(2);
    expect((restarts[1] ?? 0) - diedAgainAt).toBeGreaterThanOrEqual(5_000);
    expect(simulated.events.filter((event) => event.type === 'withheld' && event.cause === 'head-away').length).toBeGreaterThan(0);
  });

  it('paused: observes, journals what it would have done as withheld, and does nothing; resumed, it launches', async () => {
    const { provider, ray, events, run, spec } = watched({ paused: true });
    ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 2, durationMs: 60_000 });
    await run(5);
    expect(provider.calls.launch).toBe(0);
    const withheld = events.filter((event) => event.type === 'withheld');
    expect(withheld.map((event) => event.type === 'withheld' && event.cause)).toEqual(['paused']);
    expect(withheld[0]?.reason).toMatch(/^paused: would launch 2 in worker/);
    await run(3, { ...spec, watcher: { ...spec.watcher, paused: false } });
    expect(provider.calls.launch).toBe(2);
  });

  it('never drains a node sooner than idleTimeout after it registered in Ray', async () => {
    const { ray, events, run, clock } = watched({ idleTimeout: '30s' });
    ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 1, durationMs: 1 });
    await run(4);
    const registered = events.find((event) => event.type === 'registered');
    expect(registered).toBeDefined();
    await run(25);
    expect(events.filter((event) => event.type === 'drain')).toEqual([]);
    await run(10);
    const drain = events.find((event) => event.type === 'drain');
    expect(Date.parse(drain?.time ?? '') - Date.parse(registered?.time ?? '')).toBeGreaterThanOrEqual(30_000);
    expect(clock.now()).toBeGreaterThan(Date.parse(registered?.time ?? ''));
  });

  it('terminates nothing in a tick whose provider list fails', async () => {
    const { provider, ray, events, run } = watched({ idleTimeout: '5s' });
    ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 1, durationMs: 1_000 });
    await run(4);
    expect((await provider.list()).map((instance) => instance.name)).toEqual(['sim-worker-1']);
    provider.failLists({ count: 10 });
    await run(10);
    expect(provider.calls.terminate).toBe(0);
    expect(events.some((event) => event.type === 'failure' && /provider/.test(event.reason))).toBe(true);
    await run(3);
    expect(provider.calls.terminate).toBe(1);
  });

  it('a drain whose answer is lost after Ray accepted it stops nothing that tick, and the node is stopped once later', async () => {
    const { provider, ray, events, run } = watched({ idleTimeout: '5s' });
    ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 1, durationMs: 1_000 });
    await run(4);
    ray.timeOutDrainsAfterAcceptance({ count: 1 });
    await run(6);
    expect(ray.drains.filter((drain) => drain.accepted)).toHaveLength(1);
    expect(provider.calls.terminate).toBe(0);
    expect(events.some((event) => event.type === 'failure' && /drain sim-worker-1/.test(event.reason))).toBe(true);
    await run(10);
    const stops = events.filter((event) => event.type === 'terminate');
    expect(stops.map((event) => event.type === 'terminate' && event.node)).toEqual(['sim-worker-1']);
    expect(provider.calls.terminate).toBe(1);
    expect(events.filter((event) => event.type === 'launch-failed')).toEqual([]);
    expect(await provider.list()).toEqual([]);
  });

  it('backs a crash loop off: nodes that die before joining Ray are failed launches, with their log, and the back-off survives a restart', async () => {
    const { provider, ray, events, run, restart } = watched({}, {}, { deathRate: 1 });
    ray.submit({ kind: 'task', shape: { CPU: 1 }, count: 1, durationMs: 60_000 });
    await run(60);
    expect(provider.calls.launch).toBeGreaterThan(1);
    expect(provider.calls.launch).toBeLessThanOrEqual(5);
    const failed = events.filter((event) => event.type === 'launch-failed');
    // Each dead node cleaned up is one failed launch; the last may still wait for its clean-up.
    expect(failed.length).toBe(events.filter((event) => event.type === 'terminate').length);
    expect(failed.length).toBeGreaterThanOrEqual(provider.calls.launch - 1);
    expect(failed.every((event) => event.type === 'launch-failed' && event.logTail !== undefined)).toBe(true);
    const launchesBefore = provider.calls.launch;
    await restart();
    // Right after a restart the group is still backing off, as the journal says: no launch at once.
    await run(3);
    expect(provider.calls.launch).toBe(launchesBefore);
  });
});
