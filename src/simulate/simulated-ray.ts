// A stand-in for Ray's GCS over the memory provider's nodes: work placed by resource fit, idle time, pending demand and drains as Ray reports them.
import { createHash } from 'node:crypto';
import { RayfleetError, type ErrorCode } from '../errors.js';
import type { MemoryNode, MemoryProvider } from '../providers/memory/memory-provider.js';
import { sampleLatency, type Latency } from '../providers/memory/latency.js';
import { seededRandom, type Random } from '../providers/memory/seeded-random.js';
import type { ClusterResourceState, GangRequest, PendingRequest, RayNodeState, ResourceShape } from '../ray/cluster-resource-state.js';
import type { CallOptions, DrainOptions, DrainReason, DrainResult, ShapeCount } from '../ray/gcs-client.js';
import { systemClock, type Clock } from '../time/clock.js';
import { TimeOrderedQueue } from '../time/time-ordered-queue.js';
import { giveBack, pickNode, placeGroup, takeFrom, type GroupStrategy, type PlacementNode, type TaskStrategy } from './placement.js';

export type WorkKind = 'task' | 'actor' | 'placement-group';
export type WorkStrategy = TaskStrategy | GroupStrategy;

/** Work a driver submits: `count` tasks or actors of one shape, or `count` placement groups of the same bundles. */
export interface WorkRequest {
  kind: WorkKind;
  /** What one task or actor needs. */
  shape?: ResourceShape;
  /** A placement group's bundles. */
  bundles?: ResourceShape[];
  /** DEFAULT or SPREAD for tasks and actors (DEFAULT when absent); PACK, SPREAD, STRICT_PACK or STRICT_SPREAD for groups (PACK). */
  strategy?: WorkStrategy;
  count?: number;
  /** How long each holds its resources once placed: a task runs, an actor or group lives. Infinity: to the end. */
  durationMs: number;
  /** When it is submitted; now when absent or past. */
  atMs?: number;
  /** A name for reports; `<kind>-<n>` when absent. */
  name?: string;
}

/** One task, actor or placement group and what became of it. */
export interface WorkUnit {
  readonly id: string;
  readonly name: string;
  readonly kind: WorkKind;
  /** One bundle for a task or actor; the group's bundles for a placement group. */
  readonly bundles: readonly ResourceShape[];
  readonly strategy: WorkStrategy;
  readonly durationMs: number;
  readonly submittedAtMs: number;
  /** When it was first placed. */
  readonly placedAtMs: number | undefined;
  readonly finishedAtMs: number | undefined;
  /** The instance names it runs on, or last ran on (one per bundle); empty while it waits. */
  readonly nodes: readonly string[];
  /** How often it was placed again after a node it ran on died. */
  readonly restarts: number;
}

/** A node's life in Ray, for reports. */
export interface SimulatedNode {
  readonly nodeId: string;
  readonly instanceId: string;
  readonly nodeTypeName: string;
  readonly providerId: string;
  readonly registeredAtMs: number;
  readonly deadAtMs: number | undefined;
}

export interface DrainRecord {
  atMs: number;
  nodeId: string;
  instanceId: string | undefined;
  reason: DrainReason;
  message: string;
  accepted: boolean;
  rejectionReason: string;
}

export interface SimulatedRayOptions {
  provider: MemoryProvider;
  /** The provider's clock. */
  clock?: Clock;
  /** How long after its instance is `running` a node is alive in Ray (ray start, raylet, registration); 0 when absent. */
  registrationDelay?: Latency;
  /** How long after an accepted drain the raylet is gone and the node DEAD; 1 s, as Ray 2.60 takes. */
  drainExitMs?: number;
  seed?: number;
  sessionName?: string;
  /** The `memory` Ray gives a node whose launch sets none (Ray measures the machine); 64 GiB. */
  machineMemoryBytes?: number;
  /** Dead nodes the GCS keeps reporting (`maximum_gcs_dead_node_cached_count`); 1,000. */
  deadNodeCacheSize?: number;
}

interface Counted {
  remaining: number;
  code?: ErrorCode;
  message?: string;
}

interface Unit extends WorkUnit {
  placedAtMs: number | undefined;
  finishedAtMs: number | undefined;
  nodes: string[];
  restarts: number;
  classKey: string;
  pgLabel: string | undefined;
  placement: SimNode[] | undefined;
  /** Bumped when a placement is undone, so its pending finish is ignored. */
  generation: number;
}

interface SimNode extends PlacementNode, SimulatedNode {
  deadAtMs: number | undefined;
  readonly order: number;
  readonly address: string;
  draining: DrainReason | undefined;
  idleSinceMs: number;
  readonly units: Set<Unit>;
  readonly labels: Map<string, number>;
  deadState?: RayNodeState;
}

type SimEvent =
  | { type: 'arrive'; unit: Unit }
  | { type: 'register'; node: MemoryNode }
  | { type: 'end'; providerId: string }
  | { type: 'finish'; unit: Unit; generation: number }
  | { type: 'exit'; node: SimNode };

const GIB = 1024 ** 3;
const NOT_IDLE = 'The node to be idle terminated is no longer idle.';
const NODE_ID_HEX = /^[0-9a-f]{56}$/i;
const TASK_STRATEGIES: ReadonlySet<string> = new Set(['DEFAULT', 'SPREAD']);
const GROUP_STRATEGIES: ReadonlySet<string> = new Set(['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD']);

/**
 * The two calls the watcher makes of the GCS, with the GcsClient's signatures, answered from a model of Ray:
 * nodes register a while after their instance runs, with the resources they were launched with; submitted work
 * is placed by `placement.ts`'s approximation of Ray's policy and holds its resources for its duration; pending
 * work is reported by shape with counts, placement groups as gangs, constraints as `request_resources()` sets
 * them. Everything happens at exact virtual instants: each call first plays the events due by now, in order.
 * Approximations: the GCS's view is not delayed behind the raylets; work on a node that dies is placed again
 * (Ray retries tasks, but restarts an actor only if it was given max_restarts); bundle resources such as
 * `CPU_group_<id>` are not modelled, only the `_PG_<id>` labels of the nodes holding a group.
 */
export class SimulatedRay {
  readonly calls = { getClusterResourceState: 0, drainNode: 0, requestClusterResourceConstraint: 0 };
  readonly drains: DrainRecord[] = [];
  /** While true, every call fails with RAY_UNREACHABLE, as a GCS that is down or behind a proxy. */
  unreachable = false;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly registrationDelay: Latency;
  private readonly drainExitMs: number;
  private readonly sessionName: string;
  private readonly machineMemoryBytes: number;
  private readonly deadNodeCacheSize: number;
  private readonly events = new TimeOrderedQueue<SimEvent>();
  private readonly allNodes: SimNode[] = [];
  private readonly byProviderId = new Map<string, SimNode>();
  private readonly byNodeId = new Map<string, SimNode>();
  private alive: SimNode[] = [];
  private readonly seenProviderIds = new Set<string>();
  private readonly allUnits: Unit[] = [];
  /** Units waiting, by scheduling class (kind, strategy, shape), each in arrival order. */
  private readonly pending = new Map<string, Unit[]>();
  private constraint: ShapeCount[] = [];
  private version = 0;
  private playedToMs: number;
  private readonly stateFailures: Counted[] = [];
  private readonly emptyAnswers: Counted[] = [];
  private readonly drainTimeouts: Counted[] = [];

  constructor(options: SimulatedRayOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = seededRandom(options.seed ?? 1);
    this.registrationDelay = options.registrationDelay ?? 0;
    this.drainExitMs = options.drainExitMs ?? 1_000;
    this.sessionName = options.sessionName ?? 'session_simulated';
    this.machineMemoryBytes = options.machineMemoryBytes ?? 64 * GIB;
    this.deadNodeCacheSize = options.deadNodeCacheSize ?? 1_000;
    this.playedToMs = this.clock.now();
    for (const node of options.provider.nodes()) this.mirror(node);
    options.provider.onChange((node) => this.mirror(node));
  }

  /** Nodes and demand now, as `GcsClient.getClusterResourceState` returns them. */
  async getClusterResourceState(options: CallOptions = {}): Promise<ClusterResourceState> {
    options.signal?.throwIfAborted();
    this.calls.getClusterResourceState += 1;
    this.failIfUnreachable('GetClusterResourceState');
    const failure = take(this.stateFailures);
    if (failure !== undefined) throw new RayfleetError(failure.code ?? 'RAY_UNREACHABLE', `cannot reach the simulated GCS (GetClusterResourceState): ${failure.message ?? 'told to fail'}`);
    const state = this.snapshot();
    // A GCS that has just restarted knows no nodes yet, while the demand it collects is already back.
    if (take(this.emptyAnswers) !== undefined) return { ...state, nodeStates: [] };
    return state;
  }

  /** Drains a node as `GcsClient.drainNode` does: IDLE_TERMINATION only of an idle node, PREEMPTION always. */
  async drainNode(nodeIdHex: string, reason: DrainReason, message: string, options: DrainOptions = {}): Promise<DrainResult> {
    options.signal?.throwIfAborted();
    this.calls.drainNode += 1;
    if (!NODE_ID_HEX.test(nodeIdHex)) throw new RayfleetError('RAY_REQUEST_FAILED', `cannot drain "${nodeIdHex}": a Ray node id is 56 hex digits`);
    this.failIfUnreachable('DrainNode');
    this.play();
    const now = this.clock.now();
    const node = this.byNodeId.get(nodeIdHex.toLowerCase());
    let result: DrainResult = { accepted: true, rejectionReason: '' };
    // The GCS accepts a drain of a node it does not know or that is dead: there is nothing left to drain.
    if (node !== undefined && node.deadAtMs === undefined && node.draining === undefined) {
      if (reason === 'IDLE_TERMINATION' && node.units.size > 0) {
        result = { accepted: false, rejectionReason: NOT_IDLE };
      } else {
        node.draining = reason;
        this.alive = this.alive.filter((candidate) => candidate !== node);
        if (node.units.size === 0) this.events.put(now + this.drainExitMs, { type: 'exit', node });
      }
    }
    this.drains.push({ atMs: now, nodeId: nodeIdHex, instanceId: node?.instanceId, reason, message, accepted: result.accepted, rejectionReason: result.rejectionReason });
    const timeout = result.accepted ? take(this.drainTimeouts) : undefined;
    if (timeout !== undefined) throw new RayfleetError(timeout.code ?? 'RAY_UNREACHABLE', `cannot reach the simulated GCS (DrainNode): ${timeout.message ?? 'the deadline passed after the drain was accepted'}`);
    return result;
  }

  /** What `request_resources()` does: replaces the one standing constraint; an empty list clears it. */
  async requestClusterResourceConstraint(shapes: ShapeCount[], options: CallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    this.calls.requestClusterResourceConstraint += 1;
    this.failIfUnreachable('RequestClusterResourceConstraint');
    this.constraint = shapes.map(({ shape, count }) => ({ shape: { ...shape }, count }));
  }

  /**
   * Submits work; each task, actor or group is one unit, placed as soon as a node can take it. The units
   * returned are live views, brought up to date by every call on this object (`units()` is the cheapest).
   */
  submit(request: WorkRequest): WorkUnit[] {
    const { kind } = request;
    const count = request.count ?? 1;
    const strategy = request.strategy ?? (kind === 'placement-group' ? 'PACK' : 'DEFAULT');
    const bundles = kind === 'placement-group' ? request.bundles : request.shape === undefined ? undefined : [request.shape];
    if (bundles === undefined || bundles.length === 0) throw new RayfleetError('USAGE', kind === 'placement-group' ? 'a placement group needs bundles' : `a ${kind} needs a shape`);
    if (!(kind === 'placement-group' ? GROUP_STRATEGIES : TASK_STRATEGIES).has(strategy)) throw new RayfleetError('USAGE', `strategy ${strategy} is not one a ${kind} can have`);
    if (!Number.isInteger(count) || count < 1) throw new RayfleetError('USAGE', `count ${count} must be a whole number of at least 1`);
    if (!(request.durationMs >= 0)) throw new RayfleetError('USAGE', `duration ${request.durationMs} ms must be at least 0`);
    this.play();
    const atMs = Math.max(request.atMs ?? this.clock.now(), this.playedToMs);
    const classKey = `${kind}|${strategy}|${bundles.map(shapeKey).join('+')}`;
    const units: Unit[] = [];
    for (let copy = 0; copy < count; copy += 1) {
      const serial = this.allUnits.length + 1;
      const unit: Unit = {
        id: `${kind}-${serial}`,
        name: request.name ?? `${kind}-${serial}`,
        kind,
        bundles: bundles.map((bundle) => ({ ...bundle })),
        strategy,
        durationMs: request.durationMs,
        submittedAtMs: atMs,
        placedAtMs: undefined,
        finishedAtMs: undefined,
        nodes: [],
        restarts: 0,
        classKey,
        pgLabel: kind === 'placement-group' ? `_PG_${hexOf(`${this.sessionName}/pg/${serial}`).slice(0, 36)}` : undefined,
        placement: undefined,
        generation: 0,
      };
      this.allUnits.push(unit);
      this.events.put(atMs, { type: 'arrive', unit });
      units.push(unit);
    }
    this.play();
    return units;
  }

  /** The state now, without faults and without counting a call: what the simulator measures by. */
  snapshot(): ClusterResourceState {
    this.play();
    const now = this.clock.now();
    this.version += 1;
    const dead = this.allNodes.filter((node) => node.deadAtMs !== undefined).slice(-this.deadNodeCacheSize);
    const nodeStates = [...this.allNodes.filter((node) => node.deadAtMs === undefined), ...dead].map((node) => this.nodeState(node, now));
    const requests = new Map<string, PendingRequest>();
    const gangs: GangRequest[] = [];
    for (const queue of this.pending.values()) {
      for (const unit of queue) {
        if (unit.kind === 'placement-group') {
          gangs.push(gangOf(unit));
          continue;
        }
        const shape = unit.bundles[0] ?? {};
        const key = shapeKey(shape);
        const entry = requests.get(key);
        if (entry === undefined) requests.set(key, { shape: { ...shape }, constraints: [], count: 1 });
        else entry.count += 1;
      }
    }
    return {
      version: this.version,
      sessionName: this.sessionName,
      nodeStates,
      pendingRequests: [...requests.values()],
      pendingGangs: gangs,
      constraints: this.constraint.length === 0 ? [] : [this.constraint.map(({ shape, count }) => ({ shape: { ...shape }, constraints: [], count }))],
    };
  }

  /** Every unit ever submitted, in submission order. */
  units(): readonly WorkUnit[] {
    this.play();
    return this.allUnits;
  }

  /** Every node that registered, in registration order. */
  nodes(): readonly SimulatedNode[] {
    this.play();
    return this.allNodes;
  }

  /**
   * When the oldest unit still waiting was submitted, of those `counts` accepts (all by default); undefined when none
   * waits. A queue holds units of one scheduling class, alike in their bundles: its first stands for the queue.
   */
  oldestPendingAtMs(counts: (unit: WorkUnit) => boolean = () => true): number | undefined {
    this.play();
    let oldest: number | undefined;
    for (const queue of this.pending.values()) {
      const first = queue[0];
      if (first !== undefined && (oldest === undefined || first.submittedAtMs < oldest) && counts(first)) oldest = first.submittedAtMs;
    }
    return oldest;
  }

  /** The next `count` state calls fail with the code (RAY_UNREACHABLE when absent). */
  failStates(fault: { count?: number; code?: ErrorCode; message?: string } = {}): void {
    this.stateFailures.push({ remaining: fault.count ?? 1, ...fault });
  }

  /** The next `count` state calls answer with no node states, as a GCS that has just restarted. */
  answerWithoutNodes(fault: { count?: number } = {}): void {
    this.emptyAnswers.push({ remaining: fault.count ?? 1 });
  }

  /** The next `count` accepted drains take effect, but the call fails as if its deadline passed. */
  timeOutDrainsAfterAcceptance(fault: { count?: number; code?: ErrorCode; message?: string } = {}): void {
    this.drainTimeouts.push({ remaining: fault.count ?? 1, ...fault });
  }

  private failIfUnreachable(method: string): void {
    if (this.unreachable) throw new RayfleetError('RAY_UNREACHABLE', `cannot reach the simulated GCS (${method}): it is down`);
  }

  /** Learns of a provider node's launch, end or death; its timeline says when each takes effect. */
  private mirror(node: MemoryNode): void {
    if (!this.seenProviderIds.has(node.providerId)) {
      this.seenProviderIds.add(node.providerId);
      const registersAt = node.runningAtMs + sampleLatency(this.registrationDelay, node.request, this.random);
      this.events.put(Math.max(registersAt, this.playedToMs), { type: 'register', node });
    }
    const endsAt = Math.min(node.terminatingAtMs ?? Number.POSITIVE_INFINITY, node.diedAtMs ?? Number.POSITIVE_INFINITY);
    if (Number.isFinite(endsAt)) this.events.put(Math.max(endsAt, this.playedToMs), { type: 'end', providerId: node.providerId });
  }

  /** Plays every event due by now, in time order; after each instant's events, places what waits. */
  private play(): void {
    const now = this.clock.now();
    for (;;) {
      const next = this.events.peek();
      if (next === undefined || next.atMs > now) break;
      const atMs = next.atMs;
      while (this.events.peek()?.atMs === atMs) this.apply((this.events.take() as { item: SimEvent }).item, atMs);
      this.playedToMs = atMs;
      this.schedule(atMs);
    }
    this.playedToMs = Math.max(this.playedToMs, now);
  }

  private apply(event: SimEvent, atMs: number): void {
    switch (event.type) {
      case 'arrive': {
        const queue = this.pending.get(event.unit.classKey);
        if (queue === undefined) this.pending.set(event.unit.classKey, [event.unit]);
        else queue.push(event.unit);
        return;
      }
      case 'register':
        this.register(event.node, atMs);
        return;
      case 'end': {
        const node = this.byProviderId.get(event.providerId);
        if (node !== undefined) this.kill(node, atMs);
        return;
      }
      case 'finish':
        if (event.unit.generation === event.generation) this.finish(event.unit, atMs);
        return;
      case 'exit':
        this.kill(event.node, atMs);
        return;
    }
  }

  private register(instance: MemoryNode, atMs: number): void {
    const endsAt = Math.min(instance.terminatingAtMs ?? Number.POSITIVE_INFINITY, instance.diedAtMs ?? Number.POSITIVE_INFINITY);
    if (endsAt <= atMs) return;
    const { request } = instance;
    const total: ResourceShape = { CPU: request.resources.cpus };
    if (request.resources.gpus > 0) total.GPU = request.resources.gpus;
    total.memory = request.resources.memoryBytes ?? this.machineMemoryBytes;
    total.object_store_memory = request.resources.objectStoreMemoryBytes ?? Math.round(total.memory * 0.3);
    Object.assign(total, request.resources.custom);
    total[`node:${instance.address}`] = 1;
    if (request.role === 'head') total['node:__internal_head__'] = 1;
    const node: SimNode = {
      nodeId: hexOf(`${this.sessionName}/node/${instance.providerId}`),
      instanceId: request.name,
      nodeTypeName: request.group,
      providerId: instance.providerId,
      registeredAtMs: atMs,
      deadAtMs: undefined,
      order: this.allNodes.length,
      address: instance.address,
      // Shared by every answer, as it never changes: frozen, so a reader that writes to it fails loudly.
      total: Object.freeze(total),
      available: { ...total },
      hasGpu: (total.GPU ?? 0) > 0,
      draining: undefined,
      idleSinceMs: atMs,
      units: new Set(),
      labels: new Map(),
    };
    this.allNodes.push(node);
    this.byProviderId.set(node.providerId, node);
    this.byNodeId.set(node.nodeId, node);
    this.alive.push(node);
  }

  /** The node is gone from Ray: its work waits again, to be placed elsewhere. */
  private kill(node: SimNode, atMs: number): void {
    if (node.deadAtMs !== undefined) return;
    node.deadAtMs = atMs;
    this.alive = this.alive.filter((candidate) => candidate !== node);
    for (const unit of [...node.units]) {
      this.release(unit);
      unit.nodes = [];
      unit.restarts += 1;
      const queue = this.pending.get(unit.classKey);
      if (queue === undefined) this.pending.set(unit.classKey, [unit]);
      else queue.push(unit);
    }
    node.available = {};
  }

  private finish(unit: Unit, atMs: number): void {
    const nodes = unit.placement ?? [];
    this.release(unit);
    unit.finishedAtMs = atMs;
    for (const node of nodes) {
      if (node.units.size > 0) continue;
      node.idleSinceMs = atMs;
      // A preempted node leaves once its work is done.
      if (node.draining !== undefined && node.deadAtMs === undefined) this.events.put(atMs + this.drainExitMs, { type: 'exit', node });
    }
  }

  private release(unit: Unit): void {
    for (const [index, node] of (unit.placement ?? []).entries()) {
      node.units.delete(unit);
      if (node.deadAtMs === undefined) giveBack(node.available, unit.bundles[index] ?? {});
      if (unit.pgLabel !== undefined) {
        const held = (node.labels.get(unit.pgLabel) ?? 1) - 1;
        if (held <= 0) node.labels.delete(unit.pgLabel);
        else node.labels.set(unit.pgLabel, held);
      }
    }
    unit.placement = undefined;
    unit.generation += 1;
  }

  /** Places what waits, class by class in the order the classes first waited; a class stops at its first unit that does not fit. */
  private schedule(atMs: number): void {
    for (const [key, queue] of this.pending) {
      let placed = 0;
      for (const unit of queue) {
        const nodes = this.placementFor(unit);
        if (nodes === undefined) break;
        this.commit(unit, nodes, atMs);
        placed += 1;
      }
      if (placed === queue.length) this.pending.delete(key);
      else if (placed > 0) queue.splice(0, placed);
    }
  }

  private placementFor(unit: Unit): SimNode[] | undefined {
    if (this.alive.length === 0) return undefined;
    if (unit.kind === 'placement-group') return placeGroup(this.alive, unit.bundles, unit.strategy as GroupStrategy);
    const node = pickNode(this.alive, unit.bundles[0] ?? {}, unit.strategy as TaskStrategy);
    return node === undefined ? undefined : [node];
  }

  private commit(unit: Unit, nodes: SimNode[], atMs: number): void {
    for (const [index, node] of nodes.entries()) {
      takeFrom(node.available, unit.bundles[index] ?? {});
      node.units.add(unit);
      if (unit.pgLabel !== undefined) node.labels.set(unit.pgLabel, (node.labels.get(unit.pgLabel) ?? 0) + 1);
    }
    unit.placement = nodes;
    unit.nodes = nodes.map((node) => node.instanceId);
    unit.placedAtMs ??= atMs;
    if (Number.isFinite(unit.durationMs)) this.events.put(atMs + unit.durationMs, { type: 'finish', unit, generation: unit.generation });
  }

  private nodeState(node: SimNode, now: number): RayNodeState {
    if (node.deadAtMs !== undefined) {
      // A dead node's entry never changes again: made once, as the GCS caches it.
      node.deadState ??= { nodeId: node.nodeId, instanceId: node.instanceId, nodeTypeName: node.nodeTypeName, ipAddress: node.address, status: 'DEAD', idleMs: 0, totalResources: {}, availableResources: {}, activity: [], labels: {} };
      return node.deadState;
    }
    const idle = node.units.size === 0;
    const activity: string[] = [];
    if (!idle) {
      for (const name in node.total) {
        if (!name.startsWith('node:') && (node.available[name] ?? 0) < (node.total[name] ?? 0)) activity.push(`Resource: ${name} currently in use.`);
      }
    }
    const labels: Record<string, string> = {};
    for (const label of node.labels.keys()) labels[label] = '';
    return {
      nodeId: node.nodeId,
      instanceId: node.instanceId,
      nodeTypeName: node.nodeTypeName,
      ipAddress: node.address,
      status: node.draining !== undefined ? 'DRAINING' : idle ? 'IDLE' : 'RUNNING',
      idleMs: idle ? now - node.idleSinceMs : 0,
      totalResources: node.total,
      availableResources: { ...node.available },
      activity,
      labels,
    };
  }
}

function gangOf(unit: Unit): GangRequest {
  const label = unit.pgLabel ?? '';
  const constraints =
    unit.strategy === 'STRICT_SPREAD'
      ? [{ antiAffinity: { label, value: '' } }]
      : unit.strategy === 'STRICT_PACK'
        ? [{ affinity: { label, value: '' } }]
        : [];
  return {
    details: `${label.slice('_PG_'.length)}:${unit.strategy}|PENDING`,
    bundles: unit.bundles.map((shape) => ({ shape: { ...shape }, constraints: constraints.map((constraint) => ({ ...constraint })) })),
  };
}

/** A key for a shape that does not depend on the order its resources were written in. */
function shapeKey(shape: ResourceShape): string {
  return Object.keys(shape)
    .filter((name) => (shape[name] ?? 0) !== 0)
    .sort()
    .map((name) => `${name}=${shape[name]}`)
    .join(',');
}

/** 56 hex digits (a Ray id's 28 bytes), the same for the same text. */
function hexOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 56);
}

function take(faults: Counted[]): Counted | undefined {
  const fault = faults[0];
  if (fault === undefined) return undefined;
  fault.remaining -= 1;
  if (fault.remaining <= 0) faults.shift();
  return fault;
}
