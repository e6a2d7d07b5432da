// One cluster, as the library and the CLI see it: bring it up and down, change it live, add and remove workers, report it.
import { randomUUID } from 'node:crypto';
import { RayfleetError, isRayfleetError } from '../errors.js';
import type { JournalEvent } from '../journal/event.js';
import { silentLogger } from '../log/logger.js';
import { backendOf } from '../providers/backend-of.js';
import { assertNodeName } from '../providers/node-names.js';
export type { RemoveWorkerOptions } from './remove-worker.js';
export type { AddWorkersOptions, FleetOptions } from './fleet-options.js';
import type { FrontDoor, Instance, LogOptions } from '../providers/node-provider.js';
import type { ClusterSpec } from '../spec/schema.js';
import { defaultGroup } from '../spec/worker-groups.js';
import { ClusterHandle } from './cluster-handle.js';
import type { AddWorkersOptions, FleetOptions } from './fleet-options.js';
import { bringUp, takeDown } from './cluster-lifecycle.js';
import { readClusterEvents } from './cluster-events.js';
import { chooseClusterPorts } from './cluster-ports.js';
import { provisionalRecord, readClusterRecord, type ClusterRecord } from './cluster-record.js';
import { readClusterStatus, type ClusterStatus } from './cluster-status.js';
import { removeWorker, type RemoveWorkerOptions } from './remove-worker.js';
import { FleetJobs } from './fleet-jobs.js';
import { FleetServe } from './fleet-serve.js';
import { FleetWatcher } from './fleet-watcher.js';
import { workContextOf } from './work-context-of.js';
import type { HeadEndpoints } from './head-endpoints.js';
import { applyDeclaredSpec, applyLivePatch, diffSpecs, type LiveSpecPatch, type SpecChange } from './spec-changes.js';
import { clusterPaths, clusterStateDir, type ClusterPaths } from './state-dir.js';

const DEFAULT_NODE_START_TIMEOUT_MS = 180_000;

export class Fleet {
  /** The spec this invocation brought. */
  readonly declaredSpec: ClusterSpec;
  readonly paths: ClusterPaths;
  /** The background (or in-head) watcher of this cluster. */
  readonly watcher: FleetWatcher;
  private cluster: ClusterHandle;
  /** Whether `up` had run, and `down` not, when the fleet was opened (or since). */
  private running: boolean;
  /** Why the saved record could not be read: every command but `down --force` reports it. */
  private readonly damage: RayfleetError | undefined;

  private constructor(
    private readonly options: FleetOptions,
    paths: ClusterPaths,
    saved: ClusterRecord | undefined,
    damage: RayfleetError | undefined,
  ) {
    this.declaredSpec = options.spec;
    this.paths = paths;
    this.running = saved !== undefined;
    this.damage = damage;
    this.cluster = this.handleFor(saved ?? provisionalRecord(options.spec));
    this.watcher = new FleetWatcher(() => this.cluster);
  }

  /** The cluster the spec names; once it is up, its saved spec is what every command acts on. */
  static async open(options: FleetOptions): Promise<Fleet> {
    const { spec } = options;
    const paths = clusterPaths(options.stateDir ?? clusterStateDir(spec.name, backendOf(spec.provider).stateDir));
    try {
      return new Fleet(options, paths, await readClusterRecord(paths.clusterFile), undefined);
    } catch (error) {
      if (!isRayfleetError(error, 'CLUSTER_RECORD_DAMAGED')) throw error;
      return new Fleet(options, paths, undefined, error);
    }
  }

  get name(): string {
    return this.cluster.name;
  }

  /** The spec the cluster runs (saved at `up`, with its live changes), or the declared one before `up`. */
  get spec(): ClusterSpec {
    return this.cluster.spec;
  }

  /** Whether `up` has run and `down` has not. */
  async exists(): Promise<boolean> {
    if (this.damage !== undefined) return true;
    return (await readClusterRecord(this.paths.clusterFile)) !== undefined;
  }

  /** Where this machine reaches the head. */
  async endpoints(signal?: AbortSignal): Promise<HeadEndpoints> {
    await this.requireUp();
    return this.cluster.connection.endpoints(signal);
  }

  /** How a user reaches the cluster from outside its network (a CML head application); undefined where the head is reached directly. */
  async frontDoor(signal?: AbortSignal): Promise<FrontDoor | undefined> {
    const provider = await this.cluster.provider();
    return provider.frontDoor === undefined ? undefined : provider.frontDoor(signal);
  }

  /** The token of the dashboard inside the cluster, where one runs there (a CML head's); undefined where this machine's dashboard serves it. */
  async dashboardToken(signal?: AbortSignal): Promise<string | undefined> {
    const provider = await this.cluster.provider();
    return provider.dashboardToken === undefined ? undefined : provider.dashboardToken(signal);
  }

  /** Where to run a command when this machine cannot reach the head; undefined where it always can. */
  get unreachableHeadAdvice(): string | undefined {
    return this.cluster.backend.unreachableHeadAdvice;
  }

  /** The cluster's Ray auth token, for clients of its dashboard (jobs, Serve). */
  async authToken(): Promise<string> {
    await this.requireUp();
    return this.cluster.connection.authToken();
  }

  /**
   * Brings the cluster to its spec: the head, then every group's minimum of workers in parallel, then the watcher; returns
   * once all are in Ray (or, with `waitForWorkers: false`, launched). On a running cluster it applies the declared spec's
   * live changes (groups' min and max, new groups, watcher settings) and refuses the rest with the diff.
   */
  async up(signal?: AbortSignal, options: { waitForWorkers?: boolean } = {}): Promise<ClusterStatus> {
    this.requireReadable();
    const wasRunning = this.running && (await this.exists());
    if (wasRunning) await this.applyChanges(applyDeclaredSpec(this.cluster.spec, this.declaredSpec), 'cli');
    else await this.createRecord(signal);
    await bringUp(this.cluster, this.watcher, { wasRunning, waitForWorkers: options.waitForWorkers !== false, signal }, () => this.down());
    return this.status(signal);
  }

  /**
   * Stops the watcher, then every node of this cluster and nothing else: workers first, unless the watcher lives in the
   * head. `force` goes on when the saved record is damaged (what the provider lists for the declared spec is stopped),
   * and forgets nodes it cannot reach (an SSH host gone for good) instead of failing on them.
   */
  async down(signal?: AbortSignal, options: { force?: boolean } = {}): Promise<void> {
    if (this.damage !== undefined && options.force !== true) throw this.damage;
    if (this.damage === undefined) await this.requireUp();
    await takeDown(this.cluster, this.watcher, signal, { force: options.force === true });
    this.running = false;
  }

  /** Down, then up with the declared spec (file, env and flags as they are now). */
  async restart(signal?: AbortSignal): Promise<ClusterStatus> {
    if (await this.exists()) await this.down(signal, { force: this.damage !== undefined });
    return this.up(signal);
  }

  /** The saved spec against the declared one, field by field. */
  specDiff(): SpecChange[] {
    return diffSpecs(this.cluster.spec, this.declaredSpec);
  }

  /** Applies live settings (the dashboard, `watcher start` flags) to the running cluster's saved spec, journaled with who made them. */
  async applyLiveChanges(patch: LiveSpecPatch, by: 'cli' | 'api'): Promise<SpecChange[]> {
    await this.requireUp();
    await this.cluster.reload();
    return this.applyChanges(applyLivePatch(this.cluster.spec, patch), by);
  }

  /** Each node as the provider sees it beside what Ray's GCS says of it. */
  async status(signal?: AbortSignal): Promise<ClusterStatus> {
    await this.requireUp();
    return readClusterStatus(this.cluster, signal);
  }

  /**
   * Adds `count` workers to a group at its lowest free indices, all or none: GROUP_AT_MAX, naming the room left, when
   * the group's max or maxWorkers cannot take them all (decided under the launch lock). Returns once Ray has them, or
   * with `wait: 'launched'` once the provider has the launches.
   */
  async addWorkers(options: AddWorkersOptions = {}): Promise<Instance[]> {
    await this.requireUp();
    const group = options.group ?? defaultGroup(this.spec).name;
    const count = options.count ?? 1;
    const started: string[] = [];
    let launched: Instance[];
    try {
      launched = await this.cluster.launcher.launchWorkers(group, count, options.reason ?? `add-worker --group ${group} --count ${count}`, { signal: options.signal, started });
    } catch (error) {
      // Nothing this call started outlives it: interrupted or failed, its workers are stopped.
      await this.stopStarted(started, options.signal?.aborted === true ? 'add-worker interrupted' : 'add-worker failed');
      throw error;
    }
    if (options.wait !== 'launched') await this.waitForWorkers(launched.map((instance) => instance.name), options.signal);
    return launched;
  }

  /**
   * Waits until Ray has the workers an `addWorkers({ wait: 'launched' })` started, journaling each as it registers (the
   * watcher journals only its own launches); those that do not join, or all of them on an abort, are stopped.
   */
  async waitForWorkers(names: string[], signal?: AbortSignal): Promise<void> {
    try {
      await this.cluster.readiness.waitForRegistration(names, signal);
    } catch (error) {
      await this.stopStarted(names, signal?.aborted === true ? 'add-worker interrupted' : 'did not join Ray');
      throw error;
    }
  }

  private async stopStarted(names: string[], reason: string): Promise<void> {
    if (names.length === 0) return;
    this.cluster.progress(`stopping ${names.join(', ')} (${reason})`);
    await Promise.all(names.map((name) => this.cluster.stop(name, reason))).catch(() => undefined);
  }

  /** Drains the worker in Ray, then stops it; a busy worker is refused (NODE_BUSY) unless forced. */
  async removeWorker(name: string, options: RemoveWorkerOptions = {}): Promise<void> {
    await this.requireUp();
    await removeWorker(this.cluster, name, options);
  }

  async *logs(name: string, options: LogOptions = {}): AsyncIterable<string> {
    await this.requireUp();
    assertNodeName(name, this.name);
    yield* (await this.cluster.provider()).logs(name, options);
  }

  /** What a Ray driver needs in its environment to reach this cluster. */
  async connectionEnv(): Promise<Record<string, string>> {
    const endpoints = await this.endpoints();
    return { RAY_ADDRESS: endpoints.driverAddress, RAY_API_SERVER_ADDRESS: endpoints.dashboardUrl, ...(await this.cluster.connection.authEnv()) };
  }

  /** This machine's journal, with what a watcher inside the cluster recorded (cai), in time order. */
  async events(options: { since?: Date; last?: number } = {}): Promise<{ events: JournalEvent[]; skippedLines: number[] }> {
    return readClusterEvents(this.cluster.journal, await this.cluster.provider(), this.cluster.logger, options);
  }

  /** The cluster's Ray jobs, over Ray's Jobs REST API: submit, follow without losing a line, stop, list, delete. */
  get jobs(): FleetJobs {
    return new FleetJobs(workContextOf(() => this.cluster, () => this.requireUp()));
  }

  /** The cluster's Ray Serve applications, deployed one at a time and the others kept. */
  get serve(): FleetServe {
    return new FleetServe(workContextOf(() => this.cluster, () => this.requireUp()));
  }

  /** Releases the connection to Ray, so a short command can exit; the fleet reconnects if used again. */
  close(): void {
    this.cluster.close();
  }

  private handleFor(record: ClusterRecord): ClusterHandle {
    return new ClusterHandle({
      paths: this.paths,
      record,
      logger: this.options.logger ?? silentLogger,
      progress: this.options.onProgress ?? (() => undefined),
      nodeStartTimeoutMs: this.options.nodeStartTimeoutMs ?? DEFAULT_NODE_START_TIMEOUT_MS,
      backend: this.options.backend,
    });
  }

  /** The first `up`: ports chosen, the runtime ready (local nodes run it here), the record written. */
  private async createRecord(signal: AbortSignal | undefined): Promise<void> {
    const record: ClusterRecord = { createdAt: new Date().toISOString(), clusterId: randomUUID(), spec: this.declaredSpec, ports: await chooseClusterPorts(this.declaredSpec) };
    this.cluster.close();
    this.cluster = this.handleFor(record);
    if (this.cluster.runsRayHere) await this.cluster.runtime(signal);
    await this.cluster.save();
    this.running = true;
  }

  /** Saves and journals the changes; the watcher follows `watcher.enabled` at once, and everything else from its next tick. */
  private async applyChanges(result: { spec: ClusterSpec; changes: SpecChange[] }, by: 'cli' | 'api'): Promise<SpecChange[]> {
    if (!(await this.cluster.saveSpecChanges(result.spec, result.changes, by))) return [];
    await (result.spec.watcher.enabled ? this.watcher.start() : this.watcher.stop());
    return result.changes;
  }

  private requireReadable(): void {
    if (this.damage !== undefined) throw this.damage;
  }

  private async requireUp(): Promise<void> {
    this.requireReadable();
    if (!(await this.exists())) {
      throw new RayfleetError('CLUSTER_NOT_FOUND', `cluster ${this.name} is not up`, {
        details: `Start it with \`rayfleet up -c ${this.name}\`, or name another cluster with -c.`,
      });
    }
  }
}
