import { describe, expect, it } from 'vitest';
import type { NewEvent } from '../journal/event.js';
import { MemoryProvider } from '../providers/memory/memory-provider.js';
import { SimulatedRay } from '../simulate/simulated-ray.js';
import { VirtualClock } from '../time/virtual-clock.js';
import { drainThenStopAll, type DrainContext } from './drain-and-stop.js';

/** Idle workers alive in a simulated Ray, and the context drainThenStopAll takes, on a clock the test moves. */
async function idleWorkers(count: number) {
  const clock = new VirtualClock();
  const provider = new MemoryProvider({ clock });
  const ray = new SimulatedRay({ provider, clock, drainExitMs: 500 });
  for (let index = 1; index <= count; index += 1) {
    await provider.launch({ name: `m-worker-${index}`, role: 'worker', group: 'worker', index, resources: { cpus: 1, gpus: 0, custom: {} }, env: {} });
  }
  await clock.advance(0);
  const nodes = (await ray.getClusterResourceState()).nodeStates;
  const nodeIdOf = (name: string) => nodes.find((node) => node.instanceId === name)?.nodeId;
  const events: NewEvent[] = [];
  const context: DrainContext = { provider: async () => provider, record: async (event) => void events.push(event), gcs: async () => ray, clock };
  const request = (name: string) => ({ name, group: 'worker', nodeId: nodeIdOf(name), reason: 'idle' });
  /** Runs a call that waits on the virtual clock to its end. */
  const settle = async <T>(work: Promise<T>): Promise<T> => {
    let ended = false;
    void work.finally(() => {
      ended = true;
    });
    while (!ended) await clock.advance(250);
    return work;
  };
  return { clock, provider, ray, events, context, request, settle };
}

describe('drainThenStopAll', () => {
  it('asks no drain of a node Ray shows DRAINING or DEAD, and none twice for one node, and stops each once', async () => {
    const { provider, ray, events, context, request, settle } = await idleWorkers(3);
    const [first, second, third] = [request('m-worker-1'), request('m-worker-2'), request('m-worker-3')];
    // Drained before (by a watcher since restarted), and one already gone from Ray.
    await ray.drainNode(first.nodeId ?? '', 'IDLE_TERMINATION', 'earlier');
    await ray.drainNode(second.nodeId ?? '', 'PREEMPTION', 'earlier');
    const alreadyAsked = ray.drains.length;
    const results = await settle(drainThenStopAll(context, [first, second, third, third]));
    expect(ray.drains.slice(alreadyAsked).map((drain) => drain.instanceId)).toEqual(['m-worker-3']);
    expect(results.map((result) => ('outcome' in result ? [result.name, result.outcome.stopped] : [result.name, 'error']))).toEqual([
      ['m-worker-1', true],
      ['m-worker-2', true],
      ['m-worker-3', true],
    ]);
    expect(provider.calls.terminate).toBe(3);
    expect(events.filter((event) => event.type === 'drain').map((event) => event.type === 'drain' && event.node)).toEqual(['m-worker-3']);
    expect(await provider.list()).toEqual([]);
  });

  it('asks no more drains once one call fails, and stops none of the nodes it could not drain', async () => {
    const { provider, ray, context, request, settle } = await idleWorkers(2);
    // The first call's answer is lost after Ray accepted it: it may be draining, so it is not stopped, and the GCS is
    // asked nothing more this time.
    ray.timeOutDrainsAfterAcceptance({ count: 1 });
    const results = await settle(drainThenStopAll(context, [request('m-worker-1'), request('m-worker-2')]));
    expect(results.every((result) => 'error' in result)).toBe(true);
    expect(ray.calls.drainNode).toBe(1);
    expect(provider.calls.terminate).toBe(0);
  });
});
