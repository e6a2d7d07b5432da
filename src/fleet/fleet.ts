// One cluster, as the library and the CLI see it: bring it up and down, add and remove workers, report its state.
import { rm } from 'node:fs/promises';
import { RayfleetError, isRayfleetError, messageOf } from '../errors.js';
import { withDirectoryLock } from '../fs/directory-lock.js';
import { Journal, parseJournal, selectEvents } from '../journal/journal.js';
import type { JournalEvent, NewEvent } from '../journal/event.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { readOrCreateAuthToken, rayAuthEnv } from '../ray/auth-token.js';
import { GcsClient, type RayNodeState } from '../ray/gcs-client.js';
import { ensureRuntime, type Runtime } from '../ray/runtime.js';
import { DEFAULT_GROUP, HEAD_GROUP, headName, nextFreeIndices, workerName } from '../providers/node-names.js';
import type { Instance, LaunchRequest, LogOptions, NodeProvider, NodeResources } from '../providers/node-provider.js';
import type { ClusterSpec, NodeShape, WorkerGroupSpec } from '../spec/schema.js';
import { pollUntil } from '../wait/poll-until.js';
import { readClusterRecord, writeClusterRecord } from './cluster-record.js';
import { clusterPaths, clusterStateDir, type ClusterPaths } from './state-dir.js';
import { joinNodes, type ClusterStatus } from './cluster-status.js';
import { createProvider } from './create-provider.js';
import { headEndpoints, type HeadEndpoints } from './head-endpoints.js';

export interface FleetOptions {
  spec: ClusterSpec;
  logger?: Logger;
  /** Progress lines for a person (runtime install, nodes starting); silent when absent. */
  onProgress?: (line: string) => void;
  /** How long a node may take from launch to registered in Ray. */
  nodeStartTimeoutMs?: number;
}

export interface AddWorkersOptions {
  group?: string;
  count?: number;
  /** Why, for the journal. */
  reason?: string;
  signal?: AbortSignal;
}

export interface RemoveWorkerOptions {
  /** Stop the node even when Ray says it is busy. */
  force?: boolean;
  reason?: string;
  signal?: AbortSignal;
}

const DEFAULT_NODE_START_TIMEOUT_MS = 180_000;
const LOG_TAIL_LINES = 25;

export class Fleet {
  readonly spec: ClusterSpec;
  readonly paths: ClusterPaths;
  readonly journal: Journal;
  private readonly logger: Logger;
  private readonly progress: (line: string) => void;
  private readonly nodeStartTimeoutMs: number;
  private runtime: Runtime | undefined;
  private gcsClient: GcsClient | undefined;
  private providerInstance: NodeProvider | undefined;
  /** The head's endpoints once a provider that learns them at run time (cai) has told them. */
  private knownEndpoints: HeadEndpoints | undefined;

  private constructor(spec: ClusterSpec, paths: ClusterPaths, runtime: Runtime | undefined, options: FleetOptions) {
    this.spec = spec;
    this.paths = paths;
    this.runtime = runtime;
    this.journal = new Journal(paths.journal, spec.name);
    this.logger = options.logger ?? silentLogger;
    this.progress = options.onProgress ?? (() => undefined);
    this.nodeStartTimeoutMs = options.nodeStartTimeoutMs ?? DEFAULT_NODE_START_TIMEOUT_MS;
  }

  /**
   * The cluster named by the spec. Once it is up, its saved spec is the truth for every command,
   * so a later edit of rayfleet.yaml cannot point `status` at other ports than the cluster runs on.
   */
  static async open(options: FleetOptions): Promise<Fleet> {
    const paths = clusterPaths(clusterStateDir(options.spec.name, options.spec.provider.type === 'local' ? options.spec.provider.stateDir : undefined));
    const record = await readClusterRecord(paths.clusterFile);
    if (record === undefined) return new Fleet(options.spec, paths, undefined, options);
    return new Fleet(record.spec, paths, record.runtime, options);
  }

  get name(): string {
    return this.spec.name;
  }

  /** Where this machine reaches the head; asks the provider when only the running head knows its address. */
  async endpoints(signal?: AbortSignal): Promise<HeadEndpoints> {
    if (this.knownEndpoints !== undefined) return this.knownEndpoints;
    const provider = await this.provider();
    if (provider.headHost === undefined) return headEndpoints(this.spec);
    const host = await provider.headHost(signal);
    if (host === undefined) {
      throw new RayfleetError('RAY_UNREACHABLE', `the head of ${this.name} has not published its address yet`, {
        details: 'It does once Ray is up on it; `rayfleet status` shows whether its application is running.',
      });
    }
    // Asked of the project once per connection (status would otherwise read it twice); close() forgets it with the GCS client.
    this.knownEndpoints = headEndpoints(this.spec, host);
    return this.knownEndpoints;
  }

  /** Whether `up` has run and `down` has not. */
  async exists(): Promise<boolean> {
    return (await readClusterRecord(this.paths.clusterFile)) !== undefined;
  }

  /**
   * Starts the head, then every group's minimum of workers in parallel; returns once all are registered in Ray,
   * or, with `waitForWorkers: false`, once the workers are launched.
   */
  async up(signal?: AbortSignal, options: { waitForWorkers?: boolean } = {}): Promise<ClusterStatus> {
    // Only local nodes run the venv on this machine; containers and applications bring their own Ray.
    const runtime = this.spec.provider.type === 'local' ? await this.ensureRuntime(signal) : undefined;
    const startedHere: string[] = [];
    try {
      await writeClusterRecord(this.paths.clusterFile, this.spec, runtime);
      const provider = await this.provider();
      const instances = await provider.list();
      const head = instances.find((instance) => instance.role === 'head');
      if (head === undefined || head.state === 'stopped' || head.state === 'failed') {
        if (head !== undefined) await provider.terminate(head.name, signal);
        this.progress(`starting ${headName(this.name)}`);
        startedHere.push(headName(this.name));
        await this.launch(this.headRequest(await this.authEnv()), `up: head of ${this.name}`, signal);
        await this.waitForRegistration([headName(this.name)], signal);
      }
      if (provider.watcherRunsOnHead === true && this.spec.watcher.enabled) {
        // The watcher in the head tops every group up to its min; launching here too would race it for the same names.
        this.progress('the watcher in the head starts the workers');
        if (options.waitForWorkers !== false) await this.waitForMinimums(signal);
        await this.record({ type: 'cluster-up', reason: `${this.name} up; its watcher starts the workers`, data: { newWorkers: 0 } });
        return await this.status();
      }
      const missing = await this.workersBelowMin();
      const launched = await Promise.all(
        missing.map(({ group, count }) => this.launchWorkers(group, count, `up: ${group.name} min ${group.min}`, signal, startedHere)),
      );
      const names = launched.flat().map((instance) => instance.name);
      if (options.waitForWorkers !== false) {
        if (names.length > 0) this.progress(`waiting for ${names.join(', ')} to join`);
        await this.waitForRegistration(names, signal);
      }
      await this.record({ type: 'cluster-up', reason: `${this.name} up with ${names.length} new worker(s)`, data: { newWorkers: names.length } });
      return await this.status();
    } catch (error) {
      // Leave no half-started cluster: a head started by this call takes everything down with it.
      if (startedHere.includes(headName(this.name))) await this.down().catch(() => undefined);
      else await Promise.all(startedHere.map((name) => this.provider().then((provider) => provider.terminate(name)))).catch(() => undefined);
      throw error;
    }
  }

  /** Stops every node of this cluster and nothing else, workers first. */
  async down(signal?: AbortSignal): Promise<void> {
    await this.requireExists();
    const provider = await this.provider();
    const instances = await provider.list();
    const stop = (role: 'head' | 'worker') =>
      Promise.all(instances.filter((instance) => instance.role === role).map((instance) => this.terminate(instance.name, 'down', signal)));
    // Workers first, so none is left without its head; unless the watcher lives in the head and would replace them.
    for (const role of provider.watcherRunsOnHead === true ? (['head', 'worker'] as const) : (['worker', 'head'] as const)) await stop(role);
    await provider.cleanup?.(signal);
    this.close();
    await rm(this.paths.rayTempDir, { recursive: true, force: true });
    await rm(this.paths.clusterFile, { force: true });
    await this.record({ type: 'cluster-down', reason: `${this.name} down, ${instances.length} node(s) stopped`, data: { nodes: instances.length } });
  }

  async restart(signal?: AbortSignal): Promise<ClusterStatus> {
    if (await this.exists()) await this.down(signal);
    return this.up(signal);
  }

  /** Each node as the provider sees it beside what Ray's GCS says of it. */
  async status(signal?: AbortSignal): Promise<ClusterStatus> {
    await this.requireExists();
    const instances = await (await this.provider()).list(signal);
    let rayNodes: RayNodeState[] | undefined;
    let rayError: string | undefined;
    try {
      rayNodes = await this.rayNodes(signal);
    } catch (error) {
      rayError = messageOf(error);
    }
    const endpoints = await this.endpoints(signal).catch(() => undefined);
    return {
      cluster: this.name,
      provider: this.spec.provider.type,
      address: endpoints?.gcsAddress ?? 'unknown',
      dashboardUrl: endpoints?.dashboardUrl ?? 'unknown',
      rayError,
      ...joinNodes(instances, rayNodes),
    };
  }

  /** Adds `count` workers to a group at its lowest free indices and waits until Ray has them. */
  async addWorkers(options: AddWorkersOptions = {}): Promise<Instance[]> {
    await this.requireExists();
    const group = this.group(options.group ?? this.defaultGroup().name);
    const count = options.count ?? 1;
    const current = (await (await this.provider()).list()).filter((instance) => instance.group === group.name).length;
    if (current + count > group.max) {
      throw new RayfleetError('USAGE', `group ${group.name} has ${current} of at most ${group.max} workers; adding ${count} would pass its max`, {
        details: `Raise workerGroups[${group.name}].max in rayfleet.yaml, then \`rayfleet restart\`.`,
      });
    }
    const launched = await this.launchWorkers(group, count, options.reason ?? `add-worker --group ${group.name} --count ${count}`, options.signal);
    try {
      await this.waitForRegistration(launched.map((instance) => instance.name), options.signal);
    } catch (error) {
      await Promise.all(launched.map((instance) => this.terminate(instance.name, 'did not join Ray'))).catch(() => undefined);
      throw error;
    }
    return launched;
  }

  /** Drains the worker in Ray, then stops it; a busy worker is refused unless forced. */
  async removeWorker(name: string, options: RemoveWorkerOptions = {}): Promise<void> {
    await this.requireExists();
    const instance = (await (await this.provider()).list()).find((candidate) => candidate.name === name);
    if (instance === undefined) throw new RayfleetError('NODE_NOT_FOUND', `no node named ${name} in cluster ${this.name}`);
    if (instance.role === 'head') throw new RayfleetError('USAGE', `${name} is the head; use \`rayfleet down\` to stop the cluster`);
    const rayNode = (await this.rayNodes(options.signal)).find(
      (node) => node.instanceId === name && node.status !== 'DEAD',
    );
    const reason = options.reason ?? 'remove-worker';
    if (rayNode !== undefined) {
      const gcs = await this.gcs();
      const drain = await gcs.drainNode(rayNode.nodeId, 'IDLE_TERMINATION', `rayfleet: ${reason}`);
      if (drain.accepted) {
        await this.record({ type: 'drain', node: name, group: instance.group, reason, data: { idleMs: rayNode.idleMs } });
      } else {
        await this.record({ type: 'drain-rejected', node: name, group: instance.group, reason: drain.rejectionReason, data: { forced: options.force === true } });
        if (options.force !== true) {
          throw new RayfleetError('NODE_BUSY', `Ray refused to drain ${name}: ${drain.rejectionReason}`, {
            details: 'The node is running work. Wait for it to finish, or pass --force to stop it anyway (its tasks are retried elsewhere, its actors and objects are lost).',
          });
        }
        // Forced: a preemption drain is never refused, and tells Ray to stop placing work there first.
        await gcs.drainNode(rayNode.nodeId, 'PREEMPTION', `rayfleet: ${reason} --force`);
      }
    }
    await this.terminate(name, reason, options.signal);
    if (rayNode !== undefined) {
      await pollUntil(
        async () => {
          const nodes = await this.rayNodes(options.signal);
          return nodes.some((node) => node.nodeId === rayNode.nodeId && node.status !== 'DEAD') ? undefined : true;
        },
        { timeoutMs: 60_000, intervalMs: 500, signal: options.signal, describe: () => `Ray to see ${name} gone` },
      );
    }
  }

  async *logs(name: string, options: LogOptions = {}): AsyncIterable<string> {
    await this.requireExists();
    yield* (await this.provider()).logs(name, options);
  }

  /** What a Ray driver needs in its environment to reach this cluster. */
  async connectionEnv(): Promise<Record<string, string>> {
    await this.requireExists();
    const endpoints = await this.endpoints();
    return {
      RAY_ADDRESS: endpoints.driverAddress,
      RAY_API_SERVER_ADDRESS: endpoints.dashboardUrl,
      ...(await this.authEnv()),
    };
  }

  /** This machine's journal, with what a watcher inside the cluster recorded (cai), in time order. */
  async events(options: { since?: Date; last?: number } = {}): Promise<{ events: JournalEvent[]; skippedLines: number[] }> {
    const local = await this.journal.read();
    const provider = await this.provider();
    const remote = await provider.remoteJournal?.().catch((error: unknown) => {
      this.logger.warn({ err: error }, "cannot read the journal of the watcher inside the cluster; showing this machine's");
      return undefined;
    });
    if (remote === undefined) return { events: selectEvents(local.events, options), skippedLines: local.skippedLines };
    const merged = [...local.events, ...parseJournal(remote).events].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
    return { events: selectEvents(merged, options), skippedLines: local.skippedLines };
  }

  /** Releases the connection to Ray, so a short command can exit; the fleet reconnects if used again. */
  close(): void {
    this.gcsClient?.close();
    this.gcsClient = undefined;
    this.knownEndpoints = undefined;
  }

  private async requireExists(): Promise<void> {
    if (!(await this.exists())) {
      throw new RayfleetError('CLUSTER_NOT_FOUND', `cluster ${this.name} is not up`, {
        details: `Start it with \`rayfleet up -c ${this.name}\`, or name another cluster with -c.`,
      });
    }
  }

  private async ensureRuntime(signal: AbortSignal | undefined): Promise<Runtime> {
    this.runtime ??= await ensureRuntime({ rayVersion: this.spec.ray.version, python: this.spec.ray.python, onProgress: this.progress, signal });
    return this.runtime;
  }

  /** The backend of this cluster: the truth of which nodes exist. */
  async provider(): Promise<NodeProvider> {
    this.providerInstance ??= createProvider({
      spec: this.spec,
      paths: this.paths,
      rayCommand: async () => (this.runtime ?? (await this.ensureRuntime(undefined))).ray,
      onProgress: this.progress,
    });
    return this.providerInstance;
  }

  /** The cluster's Ray auth token, for clients that talk to its dashboard. */
  async authToken(): Promise<string> {
    return readOrCreateAuthToken(this.paths.authToken);
  }

  /** The client of this cluster's GCS, with its auth token; closed by close(). */
  async gcs(): Promise<GcsClient> {
    this.gcsClient ??= new GcsClient({ address: (await this.endpoints()).gcsAddress, authToken: await this.authToken() });
    return this.gcsClient;
  }

  /** Every node Ray's GCS knows, alive and recently dead. */
  private async rayNodes(signal: AbortSignal | undefined): Promise<RayNodeState[]> {
    return (await (await this.gcs()).getClusterResourceState({ signal })).nodeStates;
  }

  private async authEnv(): Promise<Record<string, string>> {
    await readOrCreateAuthToken(this.paths.authToken);
    return rayAuthEnv(this.paths.authToken);
  }

  private defaultGroup(): WorkerGroupSpec {
    const group = this.spec.workerGroups.find((candidate) => candidate.name === DEFAULT_GROUP) ?? this.spec.workerGroups[0];
    if (group === undefined) throw new RayfleetError('SPEC_INVALID', 'the spec has no worker group');
    return group;
  }

  group(name: string): WorkerGroupSpec {
    const group = this.spec.workerGroups.find((candidate) => candidate.name === name);
    if (group === undefined) {
      throw new RayfleetError('USAGE', `no worker group named ${name}; the groups are ${this.spec.workerGroups.map((candidate) => candidate.name).join(', ')}`);
    }
    return group;
  }

  private async workersBelowMin(): Promise<Array<{ group: WorkerGroupSpec; count: number }>> {
    const instances = await (await this.provider()).list();
    return this.spec.workerGroups
      .map((group) => ({
        group,
        count: group.min - instances.filter((instance) => instance.group === group.name && (instance.state === 'running' || instance.state === 'starting')).length,
      }))
      .filter(({ count }) => count > 0);
  }

  private headRequest(authEnv: Record<string, string>): LaunchRequest {
    const name = headName(this.name);
    return { name, role: 'head', group: HEAD_GROUP, index: 0, resources: toResources(this.spec.head), env: this.nodeEnv(name, HEAD_GROUP, authEnv) };
  }

  /**
   * Launches `count` workers of a group at its lowest free indices, in parallel, without waiting for Ray;
   * under the cluster's launch lock, so no two launchers (a command and the watcher) pick the same name.
   */
  async launchWorkers(
    group: WorkerGroupSpec,
    count: number,
    reason: string,
    signal: AbortSignal | undefined,
    started: string[] = [],
  ): Promise<Instance[]> {
    const authEnv = await this.authEnv();
    const provider = await this.provider();
    return withDirectoryLock(this.paths.launchLock, signal, async () => {
      // Stopped nodes hold their index until removed; clear them so their names are free again.
      const instances = await provider.list();
      for (const ended of instances.filter((instance) => instance.group === group.name && instance.state === 'stopped')) {
        await this.terminate(ended.name, 'ended on its own', signal);
      }
      const taken = instances.filter((instance) => instance.group === group.name && instance.state !== 'stopped').map((instance) => instance.index);
      const indices = nextFreeIndices(taken, count);
      return Promise.all(
        indices.map((index) => {
          const name = workerName(this.name, group.name, index);
          started.push(name);
          const request: LaunchRequest = { name, role: 'worker', group: group.name, index, resources: toResources(group), env: this.nodeEnv(name, group.name, authEnv) };
          return this.launch(request, reason, signal);
        }),
      );
    });
  }

  private nodeEnv(name: string, group: string, authEnv: Record<string, string>): Record<string, string> {
    return {
      ...authEnv,
      // How Ray's GCS reports each node back as ours: never match nodes by IP.
      RAY_CLOUD_INSTANCE_ID: name,
      RAY_NODE_TYPE_NAME: group,
      // rayfleet drains a node before it stops it; Ray's own drain on SIGTERM would only add 30 s (2.60) to every stop.
      RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S: '0',
    };
  }

  private async launch(request: LaunchRequest, reason: string, signal: AbortSignal | undefined): Promise<Instance> {
    try {
      const instance = await (await this.provider()).launch(request, signal);
      await this.record({ type: 'launch', node: request.name, group: request.group, reason, data: { cpus: request.resources.cpus, gpus: request.resources.gpus } });
      return instance;
    } catch (error) {
      await this.record({ type: 'launch-failed', node: request.name, group: request.group, reason: messageOf(error), data: { code: isRayfleetError(error) ? error.code : 'UNKNOWN' } });
      throw error;
    }
  }

  /** Stops a node through the provider and records why. */
  async terminate(name: string, reason: string, signal?: AbortSignal): Promise<void> {
    await (await this.provider()).terminate(name, signal);
    await this.record({ type: 'terminate', node: name, reason });
  }

  /**
   * The instances that are up: running for their provider (a CML application turns RUNNING only once its launcher
   * serves) and alive in Ray. Where this machine cannot reach the head (outside CML's network), a provider whose
   * running state follows Ray's start is enough.
   */
  private async namesUp(provider: NodeProvider, instances: Instance[], signal: AbortSignal | undefined): Promise<Set<string>> {
    const rayNodes = await this.rayNodes(signal).catch((error: unknown) => {
      if (provider.runningMeansRayUp === true && isRayfleetError(error, 'RAY_UNREACHABLE')) return undefined;
      throw error;
    });
    const aliveInRay = (name: string): boolean => rayNodes === undefined || rayNodes.some((node) => node.instanceId === name && node.status !== 'DEAD');
    return new Set(instances.filter((instance) => instance.state === 'running' && aliveInRay(instance.name)).map((instance) => instance.name));
  }

  /** Waits until every group has its min of workers running (and alive in Ray, where Ray can be reached). */
  private async waitForMinimums(signal: AbortSignal | undefined): Promise<void> {
    const provider = await this.provider();
    await pollUntil(
      async () => {
        const instances = await provider.list(signal);
        const up = await this.namesUp(provider, instances, signal);
        return this.spec.workerGroups.every((group) => instances.filter((instance) => instance.group === group.name && up.has(instance.name)).length >= group.min)
          ? true
          : undefined;
      },
      {
        timeoutMs: this.nodeStartTimeoutMs,
        intervalMs: 500,
        signal,
        describe: () => `the watcher to bring every group to its min (${this.spec.workerGroups.map((group) => `${group.name} ${group.min}`).join(', ')})`,
        timeoutCode: 'NODE_START_TIMEOUT',
      },
    );
  }

  /** Waits until Ray's GCS has each node alive; fails fast with its log when a node's process ends first. */
  private async waitForRegistration(names: string[], signal: AbortSignal | undefined): Promise<void> {
    if (names.length === 0) return;
    const started = Date.now();
    const pending = new Set(names);
    try {
      await pollUntil(
        async () => {
          const provider = await this.provider();
          const instances = await provider.list(signal);
          for (const name of pending) {
            const instance = instances.find((candidate) => candidate.name === name);
            if (instance === undefined || instance.state === 'stopped' || instance.state === 'failed') {
              throw new RayfleetError('NODE_START_FAILED', `${name} exited before it joined Ray`, { details: await this.logTail(name) });
            }
          }
          const up = await this.namesUp(provider, instances, signal);
          for (const name of [...pending]) {
            if (up.has(name)) {
              pending.delete(name);
              const group = instances.find((instance) => instance.name === name)?.group;
              await this.record({ type: 'registered', node: name, group, reason: 'alive in the GCS', data: { waitedMs: Date.now() - started } });
            }
          }
          return pending.size === 0 ? true : undefined;
        },
        {
          timeoutMs: this.nodeStartTimeoutMs,
          intervalMs: 300,
          signal,
          describe: () => `${[...pending].join(', ')} to register in Ray`,
          timeoutCode: 'NODE_START_TIMEOUT',
          isFatal: (error) => isRayfleetError(error, 'NODE_START_FAILED'),
        },
      );
    } catch (error) {
      if (isRayfleetError(error, 'NODE_START_TIMEOUT')) {
        const first = [...pending][0] ?? names[0] ?? '';
        throw new RayfleetError('NODE_START_TIMEOUT', `${[...pending].join(', ')} did not come up within ${Math.round(this.nodeStartTimeoutMs / 1000)} s`, {
          cause: error.cause,
          details: await this.logTail(first),
        });
      }
      throw error;
    }
  }

  private async logTail(name: string): Promise<string> {
    const lines: string[] = [];
    try {
      for await (const line of (await this.provider()).logs(name, { tail: LOG_TAIL_LINES })) lines.push(line);
    } catch (error) {
      lines.push(`(no log: ${messageOf(error)})`);
    }
    return `last lines of ${name}'s log:\n${lines.join('\n')}`;
  }

  /** Appends to the journal; a journal that cannot be written is logged, never fatal to what already happened. */
  async record(event: NewEvent): Promise<void> {
    try {
      await this.journal.append(event);
    } catch (error) {
      // The journal records what happened; failing to write it must not undo what happened.
      this.logger.error({ err: error, event }, 'cannot write to the journal');
    }
  }
}

function toResources(shape: NodeShape): NodeResources {
  return {
    cpus: shape.cpus,
    gpus: shape.gpus,
    memoryBytes: shape.memoryBytes,
    objectStoreMemoryBytes: shape.objectStoreMemoryBytes,
    custom: shape.resources,
  };
}
