// MemoryProvider: the NodeProvider contract (idempotent launch and terminate, list throws, never []), latencies on a virtual clock, faults.
import { describe, expect, it } from 'vitest';
import { isRayfleetError, type RayfleetError } from '../../errors.js';
import { VirtualClock } from '../../time/virtual-clock.js';
import type { LaunchRequest } from '../node-provider.js';
import { MemoryProvider } from './memory-provider.js';

function worker(index: number, group = 'worker'): LaunchRequest {
  return {
    name: group === 'worker' ? `ray-worker-${index}` : `ray-${group}-${index}`,
    role: 'worker',
    group,
    index,
    resources: { cpus: 2, gpus: group === 'gpu' ? 1 : 0, custom: {} },
    env: { RAY_CLOUD_INSTANCE_ID: `ray-worker-${index}` },
  };
}

async function failureOf(work: () => Promise<unknown>): Promise<RayfleetError> {
  const error = await work().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isRayfleetError(error)) throw new Error(`expected a RayfleetError, got ${String(error)}`);
  return error;
}

describe('MemoryProvider', () => {
  it('keeps a launched node starting for its launch latency, then running', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const provider = new MemoryProvider({ clock, launchLatency: 5 * 60_000 });
    const instance = await provider.launch(worker(1));
    expect(instance).toMatchObject({ name: 'ray-worker-1', group: 'worker', index: 1, state: 'starting', address: '10.0.0.1' });
    expect(instance.createdAt.getTime()).toBe(0);
    await clock.advance(5 * 60_000 - 1);
    expect((await provider.list()).map((node) => node.state)).toEqual(['starting']);
    await clock.advance(1);
    expect((await provider.list()).map((node) => node.state)).toEqual(['running']);
  });

  it('returns the node that holds a name instead of launching it twice', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const provider = new MemoryProvider({ clock, launchLatency: 1_000 });
    const first = await provider.launch(worker(1));
    const again = await provider.launch(worker(1));
    await clock.advance(1_000);
    const running = await provider.launch(worker(1));
    expect([again.providerId, running.providerId, running.state]).toEqual([first.providerId, first.providerId, 'running']);
    expect(provider.nodes()).toHaveLength(1);
    expect(provider.calls.launch).toBe(3);
    expect(provider.events.map((event) => event.type)).toEqual(['launched', 'launch-existing', 'launch-existing']);
  });

  it('lists the head first, then each group by index, and forgets a terminated node after its terminate latency', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const provider = new MemoryProvider({ clock, terminateLatency: 10_000 });
    await provider.launch(worker(2));
    await provider.launch(worker(1, 'gpu'));
    await provider.launch({ ...worker(0), name: 'ray-head', role: 'head', group: 'head', index: 0 });
    await provider.launch(worker(1));
    expect((await provider.list()).map((node) => node.name)).toEqual(['ray-head', 'ray-gpu-1', 'ray-worker-1', 'ray-worker-2']);

    let stopped = false;
    const stopping = provider.terminate('ray-worker-1').then(() => (stopped = true));
    expect((await provider.list()).find((node) => node.name === 'ray-worker-1')?.state).toBe('stopping');
    await clock.advance(9_999);
    expect(stopped).toBe(false);
    await clock.advance(1);
    await stopping;
    expect((await provider.list()).map((node) => node.name)).toEqual(['ray-head', 'ray-gpu-1', 'ray-worker-2']);
    expect(provider.nodes().find((node) => node.request.name === 'ray-worker-1')).toMatchObject({ terminatingAtMs: 0, goneAtMs: 10_000 });
  });

  it('lists an unchanged node as the same instance, and a new one once its state changed', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const provider = new MemoryProvider({ clock, launchLatency: 1_000 });
    await provider.launch(worker(1));
    const [starting] = await provider.list();
    expect((await provider.list())[0]).toBe(starting);
    await clock.advance(1_000);
    const [running] = await provider.list();
    expect(running).not.toBe(starting);
    expect([starting?.state, running?.state]).toEqual(['starting', 'running']);
    await provider.launch(worker(2));
    expect((await provider.list()).map((node) => [node.name, node === running])).toEqual([
      ['ray-worker-1', true],
      ['ray-worker-2', false],
    ]);
  });

  it('terminates idempotently: a node already stopping is waited for, a gone one is no error', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const provider = new MemoryProvider({ clock, terminateLatency: 1_000 });
    await provider.launch(worker(1));
    const first = provider.terminate('ray-worker-1');
    const second = provider.terminate('ray-worker-1');
    await clock.advance(1_000);
    await Promise.all([first, second]);
    await provider.terminate('ray-worker-1');
    await provider.terminate('never-launched');
    expect(provider.calls.terminate).toBe(4);
    expect(provider.events.filter((event) => event.type === 'terminate').map((event) => event.type === 'terminate' && event.found)).toEqual([true, true, false, false]);
    expect(provider.nodes()[0]?.goneAtMs).toBe(1_000);
  });

  it('launches a name again as a new node once the old one is gone', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const provider = new MemoryProvider({ clock, terminateLatency: 2_000 });
    await provider.launch(worker(1));
    void provider.terminate('ray-worker-1');
    let relaunched: string | undefined;
    void provider.launch(worker(1)).then((instance) => (relaunched = instance.providerId));
    await clock.advance(1_999);
    expect(relaunched).toBeUndefined();
    await clock.advance(1);
    expect(relaunched).toBe('memory-2');
    expect((await provider.list()).map((node) => [node.name, node.providerId, node.state])).toEqual([['ray-worker-1', 'memory-2', 'running']]);
  });

  it('fails injected launches with their code, and only those they match', async () => {
    const provider = new MemoryProvider({ clock: new VirtualClock() });
    provider.failLaunches({ code: 'CAI_QUOTA', message: 'no GPUs left', match: (request) => request.group === 'gpu', count: 2 });
    expect((await provider.launch(worker(1))).state).toBe('running');
    const error = await failureOf(() => provider.launch(worker(1, 'gpu')));
    expect(error.code).toBe('CAI_QUOTA');
    expect(error.message).toContain('no GPUs left');
    expect((await failureOf(() => provider.launch(worker(1, 'gpu')))).code).toBe('CAI_QUOTA');
    expect((await provider.launch(worker(1, 'gpu'))).state).toBe('running');
    expect(provider.events.filter((event) => event.type === 'launch-failed')).toHaveLength(2);
  });

  it('refuses launches past a group quota, counting a stopping node until it is gone', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const provider = new MemoryProvider({ clock, terminateLatency: 1_000, faults: { quota: { worker: 2 }, quotaCode: 'CAI_QUOTA' } });
    await provider.launch(worker(1));
    await provider.launch(worker(2));
    const refused = await failureOf(() => provider.launch(worker(3)));
    expect(refused.code).toBe('CAI_QUOTA');
    expect(refused.message).toContain('quota: group worker may hold 2 node(s) and holds 2');
    expect((await provider.launch(worker(1, 'gpu'))).state).toBe('running');
    void provider.terminate('ray-worker-2');
    expect((await failureOf(() => provider.launch(worker(3)))).code).toBe('CAI_QUOTA');
    await clock.advance(1_000);
    expect((await provider.launch(worker(3))).state).toBe('running');
  });

  it('throws from list when told to fail, never answering [] for nodes it cannot see', async () => {
    const provider = new MemoryProvider({ clock: new VirtualClock() });
    await provider.launch(worker(1));
    provider.failLists({ message: 'API down' });
    const error = await failureOf(() => provider.list());
    expect(error.code).toBe('PROVIDER_FAILED');
    expect(error.message).toContain('API down');
    expect((await provider.list()).map((node) => node.name)).toEqual(['ray-worker-1']);
  });

  it('leaves nodes out of a list when told to, for that many lists', async () => {
    const provider = new MemoryProvider({ clock: new VirtualClock() });
    await provider.launch(worker(1));
    await provider.launch(worker(2));
    provider.omitFromLists({ omit: (instance) => instance.name === 'ray-worker-2', count: 2 });
    expect((await provider.list()).map((node) => node.name)).toEqual(['ray-worker-1']);
    expect((await provider.list()).map((node) => node.name)).toEqual(['ray-worker-1']);
    expect((await provider.list()).map((node) => node.name)).toEqual(['ray-worker-1', 'ray-worker-2']);
    expect(provider.events.filter((event) => event.type === 'list-partial')).toHaveLength(2);
  });

  it('shows a killed node as failed until terminated, and relaunches it under its name', async () => {
    const provider = new MemoryProvider({ clock: new VirtualClock() });
    await provider.launch(worker(1));
    provider.kill('ray-worker-1');
    expect((await provider.list())[0]?.state).toBe('failed');
    const again = await provider.launch(worker(1));
    expect(again).toMatchObject({ providerId: 'memory-2', state: 'running' });
    expect(provider.nodes()[0]?.goneAtMs).toBeDefined();
  });

  it('draws random faults and latencies from its seed: the same seed, the same run', async () => {
    const run = async (seed: number): Promise<string[]> => {
      const clock = new VirtualClock({ startMs: 0 });
      const provider = new MemoryProvider({
        clock,
        seed,
        launchLatency: { kind: 'uniform', minMs: 1_000, maxMs: 9_000 },
        faults: { launchFailureRate: 0.3, deathRate: 0.3, deathAfter: { kind: 'fixed', ms: 500 } },
      });
      const outcomes: string[] = [];
      for (let index = 1; index <= 20; index += 1) {
        const outcome = await provider.launch(worker(index)).then(
          () => 'ok',
          (error: RayfleetError) => error.code,
        );
        outcomes.push(outcome);
      }
      await clock.advance(20_000);
      const listed = await provider.list();
      return [...outcomes, ...provider.nodes().map((node) => `${node.runningAtMs}:${node.diedAtMs ?? '-'}`), ...listed.map((node) => node.state)];
    };
    const first = await run(7);
    expect(await run(7)).toEqual(first);
    expect(await run(8)).not.toEqual(first);
    expect(first.filter((entry) => entry === 'PROVIDER_FAILED').length).toBeGreaterThan(0);
    expect(first).toContain('failed');
    expect(first).toContain('running');
  });

  it('tells a listener each change with the node timeline already holding its future', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const provider = new MemoryProvider({ clock, launchLatency: 3_000, terminateLatency: 1_000 });
    const seen: string[] = [];
    const stop = provider.onChange((node) => seen.push(`${node.request.name} running@${node.runningAtMs} gone@${node.goneAtMs ?? '-'}`));
    await provider.launch(worker(1));
    void provider.terminate('ray-worker-1');
    stop();
    await provider.launch(worker(2));
    expect(seen).toEqual(['ray-worker-1 running@3000 gone@-', 'ray-worker-1 running@3000 gone@1000']);
  });

  it('yields the log lines it was given, the last N with tail, and follows until the node is gone', async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const provider = new MemoryProvider({ clock, terminateLatency: 5_000 });
    await provider.launch(worker(1));
    provider.appendLog('ray-worker-1', 'a', 'b', 'c');
    const tail: string[] = [];
    for await (const line of provider.logs('ray-worker-1', { tail: 2 })) tail.push(line);
    expect(tail).toEqual(['b', 'c']);

    const followed: string[] = [];
    const reading = (async () => {
      for await (const line of provider.logs('ray-worker-1', { follow: true, tail: 0 })) followed.push(line);
    })();
    await clock.advance(0);
    provider.appendLog('ray-worker-1', 'd');
    await clock.advance(0);
    expect(followed).toEqual(['d']);
    void provider.terminate('ray-worker-1');
    provider.appendLog('ray-worker-1', 'stopping');
    await clock.advance(5_000);
    await reading;
    expect(followed).toEqual(['d', 'stopping']);
    const error = await failureOf(async () => {
      for await (const line of provider.logs('ray-worker-9')) void line;
    });
    expect(error.code).toBe('NODE_NOT_FOUND');
  });

  it('stops following when the signal aborts', async () => {
    const provider = new MemoryProvider({ clock: new VirtualClock() });
    await provider.launch(worker(1));
    const controller = new AbortController();
    const reading = (async () => {
      const lines: string[] = [];
      for await (const line of provider.logs('ray-worker-1', { follow: true, signal: controller.signal })) lines.push(line);
      return lines;
    })();
    provider.appendLog('ray-worker-1', 'x');
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    expect(await reading).toEqual(['x']);
  });
});
