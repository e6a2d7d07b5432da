// What every part of a fleet shares about one cluster: its files, its saved record, its backend, its Ray connection and journal.
import { stat } from 'node:fs/promises';
import { RayfleetError } from '../errors.js';
import { withDirectoryLock } from '../lock/directory-lock.js';
import type { NewEvent } from '../journal/event.js';
import { Journal } from '../journal/journal.js';
import type { Logger } from '../log/logger.js';
import type { Backend } from '../providers/backend.js';
import { backendOf } from '../providers/backend-of.js';
import type { NodeProvider } from '../providers/node-provider.js';
import { ensureRuntime, type Runtime } from '../ray/runtime.js';
import type { ClusterSpec } from '../spec/schema.js';
import { headPortsOf } from './cluster-ports.js';
import { readClusterRecord, writeClusterRecord, type ClusterRecord } from './cluster-record.js';
import { NodeLauncher } from './node-launcher.js';
import { NodeReadiness } from './node-readiness.js';
import { RayConnection, type FleetGcs } from './ray-connection.js';
import { stopNode } from './drain-and-stop.js';
import type { SpecChange } from './spec-changes.js';
import { WATCHER_NODE_FLAGS } from '../watcher/watcher-node-flags.js';
import type { ClusterPaths } from './state-dir.js';

export interface ClusterHandleOptions {
  paths: ClusterPaths;
  /** The record `up` saved, or, before `up`, the one it is about to write. */
  record: ClusterRecord;
  logger: Logger;
  progress: (line: string) => void;
  nodeStartTimeoutMs: number;
  backend?: FleetBackend | undefined;
}

/** A backend given whole instead of made from the spec: the memory provider and a stand-in GCS, for tests and the simulator. */
export interface FleetBackend {
  provider: NodeProvider;
  gcs: FleetGcs;
}

export class ClusterHandle {
  readonly paths: ClusterPaths;
  readonly journal: Journal;
  readonly logger: Logger;
  readonly progress: (line: string) => void;
  readonly connection: RayConnection;
  readonly launcher: NodeLauncher;
  readonly readiness: NodeReadiness;
  private current: ClusterRecord;
  /** When the record file last changed, so a long-lived reader re-reads it only after a live change. */
  private recordMtimeMs = -1;
  private providerInstance: NodeProvider | undefined;
  private readonly injected: FleetBackend | undefined;

  constructor(options: ClusterHandleOptions) {
    this.paths = options.paths;
    this.current = options.record;
    this.logger = options.logger;
    this.progress = options.progress;
    this.journal = new Journal(options.paths.journal, options.record.spec.name);
    this.connection = new RayConnection({
      cluster: options.record.spec.name,
      driverConnection: backendOf(options.record.spec.provider).driverConnection,
      ports: options.record.ports,
      authTokenPath: options.paths.authToken,
      provider: () => this.provider(),
      gcs: options.backend?.gcs,
    });
    this.injected = options.backend;
    const record = (event: NewEvent) => this.record(event);
    this.launcher = new NodeLauncher({
      cluster: options.record.spec.name,
      spec: async () => this.spec,
      provider: () => this.provider(),
      withLaunchLock: (signal, work) => withDirectoryLock(this.paths.launchLock, signal, work),
      authEnv: () => this.connection.authEnv(),
      clusterId: () => this.current.clusterId,
      record,
      terminate: (name, reason, signal) => this.stop(name, reason, signal),
    });
    this.readiness = new NodeReadiness({ provider: () => this.provider(), rayNodes: (signal) => this.connection.rayNodes(signal), record, timeoutMs: options.nodeStartTimeoutMs });
  }

  get name(): string {
    return this.current.spec.name;
  }

  get spec(): ClusterSpec {
    return this.current.spec;
  }

  get savedRecord(): ClusterRecord {
    return this.current;
  }

  /** What differs by backend for this cluster, read from its spec's provider. */
  get backend(): Backend {
    return backendOf(this.current.spec.provider);
  }

  /** The backend of this cluster: the truth of which nodes exist. */
  async provider(): Promise<NodeProvider> {
    if (this.injected !== undefined) return this.injected.provider;
    this.providerInstance ??= this.backend.createProvider({
      spec: this.current.spec,
      head: headPortsOf(this.current.ports),
      portOffset: this.current.ports.portOffset,
      stateDir: this.paths.root,
      clusterFile: this.paths.clusterFile,
      rayTempDir: this.paths.rayTempDir,
      rayCommand: async () => (await this.runtime()).ray,
      watcherNodeFlags: WATCHER_NODE_FLAGS,
      onProgress: this.progress,
    });
    return this.providerInstance;
  }

  /** Whether this machine runs the nodes' Ray, so `up` makes the managed venv ready first. */
  get runsRayHere(): boolean {
    return this.injected === undefined && this.backend.runsRayHere;
  }

  /** The managed venv local nodes run, installed on first use. */
  async runtime(signal?: AbortSignal): Promise<Runtime> {
    if (this.current.runtime === undefined) {
      const { ray } = this.current.spec;
      this.current = { ...this.current, runtime: await ensureRuntime({ rayVersion: ray.version, python: ray.python, onProgress: this.progress, signal }) };
    }
    return this.current.runtime as Runtime;
  }

  /** Saves the record (the spec with its live changes); every later command reads it as the cluster's truth. */
  async save(record: ClusterRecord = this.current): Promise<void> {
    this.current = record;
    await writeClusterRecord(this.paths.clusterFile, record);
  }

  /** Saves a changed spec and journals each field with who changed it; false when nothing changed. */
  async saveSpecChanges(spec: ClusterSpec, changes: SpecChange[], by: 'cli' | 'api'): Promise<boolean> {
    if (changes.length === 0) return false;
    await this.save({ ...this.current, spec });
    const reason = changes.map((change) => `${change.field} ${change.saved} → ${change.declared}`).join('; ');
    await this.record({ type: 'spec-changed', fields: changes.map((change) => change.field), by, reason });
    return true;
  }

  /** The saved record again if another process changed it (a live change); undefined once the cluster is down. */
  async reload(): Promise<ClusterRecord | undefined> {
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(this.paths.clusterFile)).mtimeMs;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new RayfleetError('CLUSTER_RECORD_DAMAGED', `cannot read ${this.paths.clusterFile}`, { cause: error });
    }
    if (mtimeMs !== this.recordMtimeMs) {
      const record = await readClusterRecord(this.paths.clusterFile);
      if (record === undefined) return undefined;
      this.current = record;
      this.recordMtimeMs = mtimeMs;
    }
    return this.current;
  }

  /** Stops a node through the provider and journals why. */
  async stop(name: string, reason: string, signal?: AbortSignal): Promise<void> {
    await stopNode({ provider: () => this.provider(), record: (event) => this.record(event) }, name, reason, signal);
  }

  /** Appends to the journal; a journal that cannot be written is logged, never fatal to what already happened. */
  async record(event: NewEvent): Promise<void> {
    try {
      await this.journal.append(event);
    } catch (error) {
      this.logger.error({ err: error, event }, 'cannot write to the journal');
    }
  }

  close(): void {
    this.connection.close();
    // A long-lived process (the dashboard) opens a fleet again when its record changes: the old one's sessions go with it.
    this.providerInstance?.close?.();
  }
}
