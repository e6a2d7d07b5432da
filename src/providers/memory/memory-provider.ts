// A NodeProvider whose nodes exist only in memory, with launch and stop latencies and faults to inject: for tests and the simulator.
import { RayfleetError, type ErrorCode } from '../../errors.js';
import { systemClock, type Clock } from '../../time/clock.js';
import { byRoleGroupIndex, type Instance, type InstanceState, type LaunchRequest, type LogOptions, type NodeProvider } from '../node-provider.js';
import { sampleLatency, type Latency } from './latency.js';
import { seededRandom, type Random } from './seeded-random.js';

/** Faults drawn at random (from the provider's seeded source), as a simulation wants them. */
export interface MemoryFaults {
  /** Chance in [0, 1] that a launch throws. */
  launchFailureRate?: number;
  /** The code a failed launch throws; PROVIDER_FAILED when absent. */
  launchFailureCode?: ErrorCode;
  /** Chance in [0, 1] that a launched node dies by itself once running (its process crashed, its container exited). */
  deathRate?: number;
  /** How long after it starts running such a node dies; at once when absent. */
  deathAfter?: Latency;
  /** The most nodes a group may hold at once (starting, running or stopping); a launch past it is refused. */
  quota?: Record<string, number>;
  /** The code a refused launch throws; PROVIDER_FAILED when absent (a CML workspace's would be CAI_QUOTA). */
  quotaCode?: ErrorCode;
}

export interface MemoryProviderOptions {
  /** The provider's `type`, for code that asks: `memory` when absent. */
  type?: string;
  /** Whose time the nodes live in: the system's, or a VirtualClock. */
  clock?: Clock;
  /** Seeds every random draw (latencies, faults), so a run can be repeated. */
  seed?: number;
  /** How long a launched node is `starting` before it is `running`; 0 when absent. */
  launchLatency?: Latency;
  /** How long a terminated node is `stopping` before it is gone; 0 when absent. */
  terminateLatency?: Latency;
  faults?: MemoryFaults;
  watcherRunsOnHead?: boolean;
  runningMeansRayUp?: boolean;
  /** How long the watcher gives a launch to join Ray, as the backend this provider stands in for would. */
  defaultLaunchTimeoutMs?: number;
}

/** One node's life, as the provider knows it. Times are the clock's milliseconds. */
export interface MemoryNode {
  /** Unique per launch: a name launched again is a new node with a new id. */
  readonly providerId: string;
  readonly request: LaunchRequest;
  readonly address: string;
  readonly launchedAtMs: number;
  /** When it turns from `starting` to `running`. */
  readonly runningAtMs: number;
  /** When it dies by itself (`failed`), if it does. */
  readonly diedAtMs: number | undefined;
  /** When terminate was asked for it (`stopping` from then). */
  readonly terminatingAtMs: number | undefined;
  /** When it stops being listed. */
  readonly goneAtMs: number | undefined;
}

/** What was asked of the provider and what it did, in order: for tests to assert on. */
export type MemoryProviderEvent =
  | { type: 'launched'; atMs: number; name: string; group: string; providerId: string; runningAtMs: number }
  | { type: 'launch-existing'; atMs: number; name: string; state: InstanceState }
  | { type: 'launch-failed'; atMs: number; name: string; group: string; code: ErrorCode; message: string }
  | { type: 'terminate'; atMs: number; name: string; found: boolean }
  | { type: 'killed'; atMs: number; name: string }
  | { type: 'list-failed'; atMs: number; code: ErrorCode }
  | { type: 'list-partial'; atMs: number; omitted: string[] };

export interface MemoryProviderCalls {
  launch: number;
  terminate: number;
  list: number;
  logs: number;
}

/** A fault injected by hand: it applies to the next `count` calls it matches (1 when absent). */
export interface InjectedLaunchFailure {
  count?: number;
  code?: ErrorCode;
  message?: string;
  /** Only launches this matches fail, e.g. one group's. */
  match?: (request: LaunchRequest) => boolean;
}

export interface InjectedListFailure {
  count?: number;
  code?: ErrorCode;
  message?: string;
}

export interface InjectedPartialList {
  count?: number;
  /** The instances the list leaves out. */
  omit: (instance: Instance) => boolean;
}

interface NodeRecord {
  providerId: string;
  request: LaunchRequest;
  address: string;
  launchedAtMs: number;
  runningAtMs: number;
  diedAtMs: number | undefined;
  terminatingAtMs: number | undefined;
  goneAtMs: number | undefined;
  /** The instance last listed: listed again, unchanged, while its state is the same (10,000 nodes are listed each tick). */
  shown: Instance | undefined;
}

interface Counted<T> {
  remaining: number;
  fault: T;
}

export class MemoryProvider implements NodeProvider {
  readonly type: string;
  readonly watcherRunsOnHead: boolean;
  readonly runningMeansRayUp: boolean;
  readonly defaultLaunchTimeoutMs: number | undefined;
  /** The random faults; change them between calls to change what comes next. */
  readonly faults: MemoryFaults;
  readonly calls: MemoryProviderCalls = { launch: 0, terminate: 0, list: 0, logs: 0 };
  readonly events: MemoryProviderEvent[] = [];
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly launchLatency: Latency;
  private readonly terminateLatency: Latency;
  /** Every node ever launched, in launch order. */
  private readonly records: NodeRecord[] = [];
  /** The node that holds each name now (it may have ended, but is still listed until it is gone). */
  private readonly byName = new Map<string, NodeRecord>();
  /** byName's records in listing order, until a launch changes them. */
  private listingOrder: NodeRecord[] | undefined;
  private readonly logLines = new Map<string, string[]>();
  private readonly logWaiters = new Map<string, Set<() => void>>();
  private readonly listeners = new Set<(node: MemoryNode) => void>();
  private readonly launchFailures: Array<Counted<InjectedLaunchFailure>> = [];
  private readonly listFailures: Array<Counted<InjectedListFailure>> = [];
  private readonly partialLists: Array<Counted<InjectedPartialList>> = [];
  private launches = 0;

  constructor(options: MemoryProviderOptions = {}) {
    this.type = options.type ?? 'memory';
    this.clock = options.clock ?? systemClock;
    this.random = seededRandom(options.seed ?? 1);
    this.launchLatency = options.launchLatency ?? 0;
    this.terminateLatency = options.terminateLatency ?? 0;
    this.faults = { ...options.faults };
    this.watcherRunsOnHead = options.watcherRunsOnHead ?? false;
    this.runningMeansRayUp = options.runningMeansRayUp ?? false;
    this.defaultLaunchTimeoutMs = options.defaultLaunchTimeoutMs;
  }

  async launch(request: LaunchRequest, signal?: AbortSignal): Promise<Instance> {
    signal?.throwIfAborted();
    this.calls.launch += 1;
    let held = this.current(request.name);
    if (held !== undefined && this.stateOf(held) === 'stopping') {
      // The name is free once the old node is gone, as a container name is once the container is removed.
      await this.clock.sleep((held.goneAtMs ?? this.clock.now()) - this.clock.now(), signal);
      signal?.throwIfAborted();
      held = this.current(request.name);
    }
    const now = this.clock.now();
    if (held !== undefined) {
      const state = this.stateOf(held);
      if (state === 'starting' || state === 'running') {
        this.events.push({ type: 'launch-existing', atMs: now, name: request.name, state });
        return this.toInstance(held);
      }
      // A node that ended is replaced under its name: what is left of it goes now.
      held.terminatingAtMs ??= now;
      held.goneAtMs = now;
      this.notify(held);
    }
    this.refuseIfFaulted(request, now);
    const runningAtMs = now + sampleLatency(this.launchLatency, request, this.random);
    const dies = (this.faults.deathRate ?? 0) > 0 && this.random() < (this.faults.deathRate ?? 0);
    this.launches += 1;
    const record: NodeRecord = {
      providerId: `memory-${this.launches}`,
      request: { ...request, resources: { ...request.resources, custom: { ...request.resources.custom } }, env: { ...request.env } },
      address: addressOf(this.launches),
      launchedAtMs: now,
      runningAtMs,
      diedAtMs: dies ? runningAtMs + sampleLatency(this.faults.deathAfter ?? 0, request, this.random) : undefined,
      terminatingAtMs: undefined,
      goneAtMs: undefined,
      shown: undefined,
    };
    this.records.push(record);
    this.byName.set(request.name, record);
    this.listingOrder = undefined;
    this.events.push({ type: 'launched', atMs: now, name: request.name, group: request.group, providerId: record.providerId, runningAtMs });
    this.notify(record);
    return this.toInstance(record);
  }

  /** Returns once the node is gone, after the terminate latency; the node goes then even if the call is aborted. */
  async terminate(name: string, signal?: AbortSignal): Promise<void> {
    this.calls.terminate += 1;
    const now = this.clock.now();
    const record = this.current(name);
    this.events.push({ type: 'terminate', atMs: now, name, found: record !== undefined });
    if (record === undefined) return;
    if (record.terminatingAtMs === undefined) {
      record.terminatingAtMs = now;
      record.goneAtMs = now + sampleLatency(this.terminateLatency, record.request, this.random);
      this.notify(record);
    }
    const wait = (record.goneAtMs ?? now) - now;
    if (wait > 0) await this.clock.sleep(wait, signal);
    signal?.throwIfAborted();
  }

  async list(signal?: AbortSignal): Promise<Instance[]> {
    signal?.throwIfAborted();
    this.calls.list += 1;
    const now = this.clock.now();
    const failure = take(this.listFailures);
    if (failure !== undefined) {
      const code = failure.code ?? 'PROVIDER_FAILED';
      this.events.push({ type: 'list-failed', atMs: now, code });
      throw new RayfleetError(code, `cannot list the nodes: ${failure.message ?? 'the in-memory provider was told to fail'}`);
    }
    this.listingOrder ??= [...this.byName.values()].sort((a, b) => byRoleGroupIndex(a.request, b.request));
    const instances: Instance[] = [];
    for (const record of this.listingOrder) if (this.stateOf(record, now) !== undefined) instances.push(this.toInstance(record, now));
    const partial = take(this.partialLists);
    if (partial === undefined) return instances;
    const omitted = instances.filter((instance) => partial.omit(instance));
    this.events.push({ type: 'list-partial', atMs: now, omitted: omitted.map((instance) => instance.name) });
    return instances.filter((instance) => !omitted.includes(instance));
  }

  /** The lines `appendLog` gave the node; with `follow`, new ones as they come, until the node is gone or the signal aborts. */
  async *logs(name: string, options: LogOptions = {}): AsyncIterable<string> {
    this.calls.logs += 1;
    if (this.current(name) === undefined && !this.logLines.has(name)) throw new RayfleetError('NODE_NOT_FOUND', `no node named ${name} in this cluster`);
    const initial = this.logLines.get(name)?.length ?? 0;
    let offset = options.tail === undefined ? 0 : Math.max(0, initial - options.tail);
    for (;;) {
      const lines = this.logLines.get(name) ?? [];
      while (offset < lines.length) {
        yield lines[offset] as string;
        offset += 1;
      }
      const node = this.current(name);
      if (options.follow !== true || options.signal?.aborted === true || node === undefined) return;
      await this.logChange(name, node, options.signal);
    }
  }

  /** Gives the node's log more lines, as its Ray processes would write them. */
  appendLog(name: string, ...lines: string[]): void {
    const log = this.logLines.get(name) ?? [];
    log.push(...lines);
    this.logLines.set(name, log);
    this.wakeLogReaders(name);
  }

  /** The next `count` launches (that `match` accepts) throw a RayfleetError with the code. */
  failLaunches(fault: InjectedLaunchFailure = {}): void {
    this.launchFailures.push({ remaining: fault.count ?? 1, fault });
  }

  /** The next `count` lists throw, as a provider does that cannot know. */
  failLists(fault: InjectedListFailure = {}): void {
    this.listFailures.push({ remaining: fault.count ?? 1, fault });
  }

  /** The next `count` lists leave out the instances `omit` picks, as an eventually consistent API may. */
  omitFromLists(fault: InjectedPartialList): void {
    this.partialLists.push({ remaining: fault.count ?? 1, fault });
  }

  /** The node dies now by itself: `failed` in the list until it is terminated. */
  kill(name: string): void {
    const record = this.current(name);
    if (record === undefined) throw new RayfleetError('NODE_NOT_FOUND', `no node named ${name} in this cluster`);
    const now = this.clock.now();
    if (record.diedAtMs === undefined || record.diedAtMs > now) record.diedAtMs = now;
    this.events.push({ type: 'killed', atMs: now, name });
    this.notify(record);
    this.wakeLogReaders(name);
  }

  /** Every node ever launched, in launch order, with its timeline (what a simulated Ray mirrors and a report sums). */
  nodes(): readonly MemoryNode[] {
    return this.records;
  }

  /** Called whenever a node is launched, starts to stop, or is killed: the node's timeline then already holds its future. */
  onChange(listener: (node: MemoryNode) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private refuseIfFaulted(request: LaunchRequest, now: number): void {
    const refuse = (code: ErrorCode, message: string): never => {
      this.events.push({ type: 'launch-failed', atMs: now, name: request.name, group: request.group, code, message });
      throw new RayfleetError(code, `cannot launch ${request.name}: ${message}`);
    };
    const injected = take(this.launchFailures, (fault) => fault.match?.(request) ?? true);
    if (injected !== undefined) refuse(injected.code ?? 'PROVIDER_FAILED', injected.message ?? 'the in-memory provider was told to fail this launch');
    const limit = this.faults.quota?.[request.group];
    if (limit !== undefined) {
      const held = [...this.byName.values()].filter((record) => record.request.group === request.group && this.stateOf(record) !== undefined && this.stateOf(record) !== 'failed').length;
      if (held >= limit) refuse(this.faults.quotaCode ?? 'PROVIDER_FAILED', `quota: group ${request.group} may hold ${limit} node(s) and holds ${held}`);
    }
    const rate = this.faults.launchFailureRate ?? 0;
    if (rate > 0 && this.random() < rate) refuse(this.faults.launchFailureCode ?? 'PROVIDER_FAILED', `the launch failed (failure rate ${rate})`);
  }

  /** The record that holds the name now, unless it is gone. */
  private current(name: string): NodeRecord | undefined {
    const record = this.byName.get(name);
    return record !== undefined && this.stateOf(record) !== undefined ? record : undefined;
  }

  /** The state at `now` (the clock's time, read once per list by the caller: 10,000 records are listed each tick); undefined once the node is gone. */
  private stateOf(record: NodeRecord, now = this.clock.now()): InstanceState | undefined {
    if (record.goneAtMs !== undefined && record.goneAtMs <= now) return undefined;
    if (record.terminatingAtMs !== undefined && record.terminatingAtMs <= now) return 'stopping';
    if (record.diedAtMs !== undefined && record.diedAtMs <= now) return 'failed';
    return record.runningAtMs <= now ? 'running' : 'starting';
  }

  private toInstance(record: NodeRecord, now = this.clock.now()): Instance {
    const { request } = record;
    const state = this.stateOf(record, now) ?? 'stopped';
    if (record.shown?.state === state) return record.shown;
    record.shown = {
      name: request.name,
      role: request.role,
      group: request.group,
      index: request.index,
      providerId: record.providerId,
      state,
      address: record.address,
      createdAt: new Date(record.launchedAtMs),
      // The provider's own copy of what was asked: instances are read-only.
      resources: request.resources,
    };
    return record.shown;
  }

  private notify(record: NodeRecord): void {
    for (const listener of this.listeners) listener(record);
    this.wakeLogReaders(record.request.name);
  }

  private wakeLogReaders(name: string): void {
    const waiters = this.logWaiters.get(name);
    if (waiters === undefined) return;
    this.logWaiters.delete(name);
    for (const wake of waiters) wake();
  }

  /** Resolves on a new line, a change to the node, its going, or the abort. */
  private logChange(name: string, node: NodeRecord, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const stop = new AbortController();
      const done = (): void => {
        stop.abort();
        signal?.removeEventListener('abort', done);
        this.logWaiters.get(name)?.delete(done);
        resolve();
      };
      const waiters = this.logWaiters.get(name) ?? new Set();
      waiters.add(done);
      this.logWaiters.set(name, waiters);
      signal?.addEventListener('abort', done, { once: true });
      if (node.goneAtMs !== undefined) void this.clock.sleep(node.goneAtMs - this.clock.now(), stop.signal).then(done);
    });
  }
}

/** Takes one use of the first fault that matches, dropping it once used up. */
function take<T>(faults: Array<Counted<T>>, matches: (fault: T) => boolean = () => true): T | undefined {
  const index = faults.findIndex((entry) => matches(entry.fault));
  const entry = faults[index];
  if (entry === undefined) return undefined;
  entry.remaining -= 1;
  if (entry.remaining <= 0) faults.splice(index, 1);
  return entry.fault;
}

/** A private address per launch, as a node on a cluster network would have: 10.0.0.1, 10.0.0.2 … */
function addressOf(launch: number): string {
  return `10.${(launch >> 16) & 255}.${(launch >> 8) & 255}.${launch & 255}`;
}
