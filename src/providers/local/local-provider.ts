// The local backend: every node is one `ray start --block` process group on this machine, known by a record file.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { RayfleetError } from '../../errors.js';
import { failpoint } from '../../fault/failpoints.js';
import { followFile } from '../../fs/follow-file.js';
import { ensurePortsFree, findFreePort } from '../../net/ports.js';
import { isGroupAlive, isLeaderAlive, startGatedProcessGroup, stopProcessGroup, type GatedStart, type ProcessHandle } from '../../process/process-group.js';
import { currentIdentity, isSameProcess } from '../../process/process-identity.js';
import { pollUntil } from '../../wait/poll-until.js';
import { byRoleGroupIndex, type GcsStore, type Instance, type InstanceState, type LaunchRequest, type LogOptions, type NodeProvider } from '../node-provider.js';
import { PartialListError, type UnreadableNode } from '../partial-list-error.js';
import type { OrphanProcess } from '../orphan-process.js';
import { rayStartArgs, type HeadPorts } from '../ray-start-args.js';
import { findLocalOrphans, stopLocalOrphan, type RecordedNodes } from './local-orphans.js';
import { readEnv } from '../../environment.js';
import { parseJsonOrUndefined } from '../../fs/json-text.js';

export interface LocalProviderOptions {
  /** The cluster's state directory: node records under `nodes/`, logs under `logs/`. */
  stateDir: string;
  /** The `ray` command of the runtime; asked for at the first launch, so listing and stopping need no venv. */
  rayCommand: () => Promise<string>;
  head: HeadPorts;
  /** Ray's temp dirs for this cluster's nodes live under this one. */
  tempDir: string;
  /** How long a node may take to shut down on SIGTERM before its group is killed. */
  stopGraceMs?: number;
}

const resourcesSchema = z.object({
  cpus: z.number(),
  gpus: z.number(),
  memoryBytes: z.number().optional(),
  objectStoreMemoryBytes: z.number().optional(),
  custom: z.record(z.string(), z.number()),
});

const identitySchema = z.object({ pid: z.number(), startTicks: z.number(), bootId: z.string() });

/**
 * What survives this process: enough to find, join and stop the node later. pid 0 = claimed, not yet started.
 * Records from before process identity carry pid and start time only; they are judged on those two.
 */
const nodeRecordSchema = z.object({
  name: z.string(),
  role: z.enum(['head', 'worker']),
  group: z.string(),
  index: z.number(),
  pid: z.number(),
  startTicks: z.number().optional(),
  bootId: z.string().optional(),
  /**
   * The variable every process of the node carries, so its processes are known as ours once the leader is gone; those
   * whose environment Ray overwrote with their title are known by a file held open in the node's Ray temp dir.
   */
  marker: z.object({ name: z.string(), value: z.string(), openDir: z.string().optional() }).optional(),
  /** Who claimed the name: while it lives, a claim is a launch in progress; once it is gone, a failed one. */
  launcher: identitySchema.optional(),
  createdAt: z.string(),
  address: z.string(),
  resources: resourcesSchema,
});
type NodeRecord = z.infer<typeof nodeRecordSchema>;

/** A claim without a launcher (written by an older version) and older than this belongs to a launcher that died. */
const LEGACY_CLAIM_TIMEOUT_MS = 30_000;
/** How long terminate waits for a launch in progress (which may be installing Ray's venv) to settle. */
const CLAIM_WAIT_MS = 15 * 60 * 1000;
const DEFAULT_STOP_GRACE_MS = 30_000;
/** How long what is left of a node whose `ray start --block` is gone may take to stop before it is killed. */
const DEAD_NODE_REMNANT_GRACE_MS = 2_000;
/** Every node of a local cluster runs here; the GCS listens on all interfaces, so loopback reaches it. */
const HEAD_HOST = '127.0.0.1';
const MARKER_VARIABLE = 'RAYFLEET_NODE_RECORD';

export class LocalProvider implements NodeProvider {
  readonly type = 'local';
  private readonly nodesDir: string;
  private readonly logsDir: string;

  constructor(private readonly options: LocalProviderOptions) {
    this.nodesDir = path.join(options.stateDir, 'nodes');
    this.logsDir = path.join(options.stateDir, 'logs');
  }

  logPath(name: string): string {
    return path.join(this.logsDir, `${name}.log`);
  }

  /**
   * Claim, start held, record the pid, let go: the record names the process before it can do anything, so a
   * launcher killed at any point leaves either no process or a recorded one. An abort before the process is let
   * go ends it and releases the name.
   */
  async launch(request: LaunchRequest, signal?: AbortSignal): Promise<Instance> {
    signal?.throwIfAborted();
    await mkdir(this.nodesDir, { recursive: true });
    await mkdir(this.logsDir, { recursive: true });
    const address = request.role === 'head' ? `${HEAD_HOST}:${this.options.head.gcsPort}` : HEAD_HOST;
    const claim: NodeRecord = {
      name: request.name,
      role: request.role,
      group: request.group,
      index: request.index,
      pid: 0,
      launcher: currentIdentity(process.pid),
      createdAt: new Date().toISOString(),
      address,
      resources: request.resources,
    };
    const existing = await this.claim(claim);
    if (existing !== undefined) return existing;
    failpoint('local.after-claim');
    let gated: GatedStart | undefined;
    try {
      signal?.throwIfAborted();
      if (request.role === 'head') {
        const { gcsPort, dashboardPort, clientPort } = this.options.head;
        await ensurePortsFree([
          { port: gcsPort, purpose: 'Ray GCS, head.gcsPort' },
          { port: dashboardPort, purpose: 'Ray dashboard, head.dashboardPort' },
          { port: clientPort, purpose: 'Ray client, head.clientPort' },
        ]);
      }
      const logPath = this.logPath(request.name);
      await writeFile(logPath, `--- rayfleet: starting ${request.name} at ${claim.createdAt} ---\n`, { flag: 'a' });
      const rayCommand = await this.options.rayCommand();
      const tempDir = localNodeTempDir(this.options.tempDir, request.name);
      const marker = { name: MARKER_VARIABLE, value: this.recordPath(request.name), openDir: tempDir };
      gated = await startGatedProcessGroup({
        command: rayCommand,
        args: rayStartArgs(request, {
          headHost: HEAD_HOST,
          head: this.options.head,
          dashboardHost: HEAD_HOST,
          sharedHost: {
            tempDir,
            dashboardAgentPort: await findFreePort(),
          },
        }),
        env: { ...nodeEnvironment(rayCommand, request.env), [marker.name]: marker.value },
        logPath,
      });
      failpoint('local.after-spawn');
      const { pid, startTicks, bootId } = gated.handle;
      const record: NodeRecord = { ...claim, pid, startTicks, bootId, marker };
      await this.writeRecord(record);
      failpoint('local.after-record');
      signal?.throwIfAborted();
      await gated.release();
      return toInstance(record);
    } catch (error) {
      await gated?.cancel();
      await rm(this.recordPath(request.name), { force: true });
      throw error;
    }
  }

  /**
   * Stops the node's processes that are provably its own and forgets it. A launch in progress is waited for
   * first, so it cannot start a node after this returned. An abort during the grace period leaves the record,
   * still naming the stopping node; a later terminate finishes the job.
   */
  async terminate(name: string, signal?: AbortSignal): Promise<void> {
    await this.stopAndForget(name, this.options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS, signal);
  }

  /**
   * A node whose `ray start --block` is gone is dead already: what is left of its group gets the short grace, as its
   * agents (measured: the dashboard and runtime-env agents of a head whose GCS died) wait out a whole long one.
   */
  private async stopAndForget(name: string, graceMs: number, signal?: AbortSignal): Promise<void> {
    const record = await this.settledRecord(name, signal);
    if (record === undefined) return;
    if (record.pid > 0) {
      const handle = handleOf(record);
      await stopProcessGroup(handle, isLeaderAlive(handle) ? graceMs : Math.min(graceMs, DEAD_NODE_REMNANT_GRACE_MS), signal);
    }
    await rm(this.recordPath(name), { force: true });
  }

  gcsStore(): GcsStore {
    const storePath = path.join(this.options.stateDir, 'gcs-store');
    return { path: storePath, clear: () => rm(storePath, { recursive: true, force: true }) };
  }

  /**
   * The head again under its name, address and ports, once its `ray start --block` is gone: while it runs, the head is
   * not proven dead (a GCS that hangs keeps its port and the store's lock). What is left of its group (its raylet waits
   * for the GCS a minute before it gives up) is stopped first, and the record goes, so the name can be claimed again.
   */
  async restartHead(request: LaunchRequest, signal?: AbortSignal): Promise<Instance | undefined> {
    const record = await this.readRecord(request.name);
    if (record !== undefined && record.pid > 0 && isLeaderAlive(handleOf(record))) return undefined;
    // The node is dead already, so what is left of it gets the short grace: its raylet, told to stop, would wait out
    // the whole 30 s for the GCS that is gone (measured: the head back 30 s after its GCS died, then under 1 s).
    await this.stopAndForget(request.name, this.options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS, signal);
    // `ray start --head` refuses an address that the last head started from this temp dir and a raylet here still names
    // (our own workers, waiting to reconnect): forgetting that last start lets the head come back on its address.
    await rm(path.join(localNodeTempDir(this.options.tempDir, request.name), 'ray_current_cluster'), { force: true });
    return this.launch(request, signal);
  }

  /** Processes carrying this cluster's id outside every recorded node's process group. */
  async orphans(clusterId: string, signal?: AbortSignal): Promise<OrphanProcess[]> {
    signal?.throwIfAborted();
    const files = await readdir(this.nodesDir).catch(() => []);
    const records = await Promise.all(files.filter((file) => file.endsWith('.json')).map((file) => this.readRecord(file.slice(0, -'.json'.length)).catch(() => undefined)));
    const recorded: RecordedNodes = { groups: new Set(), launching: new Set(), marker: { name: MARKER_VARIABLE, startTicksByValue: new Map() } };
    for (const record of records) {
      if (record === undefined) continue;
      if (record.pid === 0) recorded.launching.add(record.name);
      else recorded.groups.add(record.pid);
      if (record.marker !== undefined && record.startTicks !== undefined) recorded.marker.startTicksByValue.set(record.marker.value, record.startTicks);
    }
    return findLocalOrphans(clusterId, recorded);
  }

  async stopOrphan(orphan: OrphanProcess, clusterId: string, signal?: AbortSignal): Promise<void> {
    await stopLocalOrphan(orphan, clusterId, this.options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS, signal);
  }

  /** A driver's output is in the session of the node it ran on; Ray's agent on a worker reads the head's session instead. */
  driverLogFile(instanceName: string, submissionId: string): string {
    return path.join(localNodeTempDir(this.options.tempDir, instanceName), 'session_latest', 'logs', `job-driver-${submissionId}.log`);
  }

  /** Every readable node; when a record cannot be read, a PartialListError carrying the rest and the unreadable names. */
  async list(signal?: AbortSignal): Promise<Instance[]> {
    signal?.throwIfAborted();
    let files: string[];
    try {
      files = await readdir(this.nodesDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new RayfleetError('PROVIDER_FAILED', `cannot read ${this.nodesDir}`, { cause: error });
    }
    const instances: Instance[] = [];
    const unreadable: UnreadableNode[] = [];
    for (const name of files.filter((file) => file.endsWith('.json')).map((file) => file.slice(0, -'.json'.length))) {
      try {
        const record = await this.readRecord(name);
        if (record !== undefined) instances.push(toInstance(record));
      } catch (error) {
        unreadable.push({ name, reason: (error as Error).message });
      }
    }
    instances.sort(byRoleGroupIndex);
    if (unreadable.length > 0) throw new PartialListError(instances, unreadable);
    return instances;
  }

  async *logs(name: string, options: LogOptions = {}): AsyncIterable<string> {
    const logPath = this.logPath(name);
    if ((await this.readRecord(name)) === undefined && !(await fileExists(logPath))) {
      throw new RayfleetError('NODE_NOT_FOUND', `no node named ${name} in this cluster`);
    }
    yield* followFile(logPath, options);
  }

  private recordPath(name: string): string {
    return path.join(this.nodesDir, `${name}.json`);
  }

  /**
   * Claims the name with an exclusive create, so two launchers never start the same node.
   * Returns the instance already holding the name, if one does.
   */
  private async claim(record: NodeRecord): Promise<Instance | undefined> {
    for (;;) {
      // Written aside, then linked: link fails if the name is taken, and a reader never sees half a record.
      const draft = `${this.recordPath(record.name)}.${randomUUID()}.claim`;
      await writeFile(draft, JSON.stringify(record));
      try {
        await link(draft, this.recordPath(record.name));
        return undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        await rm(draft, { force: true });
      }
      const held = await this.readRecord(record.name);
      if (held !== undefined) {
        const instance = toInstance(held);
        if (instance.state === 'starting' || instance.state === 'running') return instance;
        // What is left of a node that ended: stop any orphans before the name is used again.
        await this.terminate(record.name);
      }
    }
  }

  /** The record once no launch is in progress on it: a live launcher's claim is waited for. */
  private async settledRecord(name: string, signal: AbortSignal | undefined): Promise<NodeRecord | undefined> {
    const first = await this.readRecord(name);
    if (first === undefined || !isLaunchInProgress(first)) return first;
    return pollUntil(
      async () => {
        const record = await this.readRecord(name);
        if (record === undefined) return { record };
        return isLaunchInProgress(record) ? undefined : { record };
      },
      { timeoutMs: CLAIM_WAIT_MS, intervalMs: 100, signal, describe: () => `the launch of ${name} (by pid ${first.launcher?.pid}) to finish` },
    ).then(({ record }) => record);
  }

  private async readRecord(name: string): Promise<NodeRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.recordPath(name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new RayfleetError('NODE_RECORD_UNREADABLE', `cannot read the record of ${name} (${this.recordPath(name)})`, { cause: error });
    }
    const parsed = nodeRecordSchema.safeParse(parseJsonOrUndefined(text));
    if (!parsed.success) {
      throw new RayfleetError(
        'NODE_RECORD_UNREADABLE',
        `the record of ${name} (${this.recordPath(name)}) is unreadable; remove it once its processes (carrying RAY_CLOUD_INSTANCE_ID=${name}) are stopped`,
      );
    }
    return parsed.data;
  }

  private async writeRecord(record: NodeRecord): Promise<void> {
    const target = this.recordPath(record.name);
    await writeFile(`${target}.tmp`, JSON.stringify(record));
    await rename(`${target}.tmp`, target);
  }
}

/**
 * The environment of a node's processes: the runtime's bin/ first on PATH and VIRTUAL_ENV set, so that job
 * entrypoints, runtime-env workers and Serve replicas run the cluster's Python (as the Docker image and the
 * CML launcher already do).
 */
export function nodeEnvironment(rayCommand: string, requestEnv: Record<string, string>): Record<string, string | undefined> {
  // `ray start --block` writes to the node's log file: unbuffered, its lines (a process of the node that died) are there
  // when they happen, not when it exits a minute later; as a container's node already runs.
  const env: Record<string, string | undefined> = { PYTHONUNBUFFERED: '1', ...process.env, ...requestEnv };
  if (!path.isAbsolute(rayCommand)) return env;
  const bin = path.dirname(rayCommand);
  const venv = path.dirname(bin);
  env.PATH = [bin, ...(readEnv('PATH') ?? '').split(path.delimiter).filter((entry) => entry !== '' && entry !== bin)].join(path.delimiter);
  // An interpreter outside a venv (RAYFLEET_PYTHON=/usr/bin/python3) has none to name; an inherited one would be wrong.
  env.VIRTUAL_ENV = existsSync(path.join(venv, 'pyvenv.cfg')) ? venv : undefined;
  return env;
}

function handleOf(record: NodeRecord): ProcessHandle {
  return { pid: record.pid, startTicks: record.startTicks, bootId: record.bootId, marker: record.marker };
}

function isLaunchInProgress(record: NodeRecord): boolean {
  return record.pid === 0 && record.launcher !== undefined && isSameProcess(record.launcher);
}

function toInstance(record: NodeRecord): Instance {
  return {
    name: record.name,
    role: record.role,
    group: record.group,
    index: record.index,
    providerId: String(record.pid),
    state: stateOf(record),
    address: record.address,
    createdAt: new Date(record.createdAt),
    resources: record.resources,
  };
}

function stateOf(record: NodeRecord): InstanceState {
  if (record.pid === 0) {
    if (record.launcher !== undefined) return isSameProcess(record.launcher) ? 'starting' : 'failed';
    return Date.now() - Date.parse(record.createdAt) < LEGACY_CLAIM_TIMEOUT_MS ? 'starting' : 'failed';
  }
  const handle = handleOf(record);
  if (isLeaderAlive(handle)) return 'running';
  // The leader is gone (or its pid is someone else's now): leftover processes of ours mean it crashed, none mean the node ended.
  return isGroupAlive(handle) ? 'failed' : 'stopped';
}

async function fileExists(filePath: string): Promise<boolean> {
  try {
    await access(filePath);
    return true;
  } catch {
    return false;
  }
}

/** Ray's temp dir of one local node, under the cluster's: short, as unix socket paths under it are capped at 107 bytes. */
function localNodeTempDir(clusterTempDir: string, nodeName: string): string {
  return path.join(clusterTempDir, createHash('sha256').update(nodeName).digest('hex').slice(0, 6));
}
