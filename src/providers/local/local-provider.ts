// The local backend: every node is one `ray start --block` process group on this machine, known by a record file.
import { createHash } from 'node:crypto';
import { access, link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { RayfleetError } from '../../errors.js';
import { followFile } from '../../fs/follow-file.js';
import { ensurePortsFree, findFreePort } from '../../net/ports.js';
import { isGroupAlive, isLeaderAlive, startProcessGroup, stopProcessGroup } from '../../process/process-group.js';
import { byRoleGroupIndex, type Instance, type InstanceState, type LaunchRequest, type LogOptions, type NodeProvider } from '../node-provider.js';
import { rayStartArgs, type HeadPorts } from '../ray-start-args.js';

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

/** What survives this process: enough to find, join and stop the node later. pid 0 = claimed, not yet started. */
const nodeRecordSchema = z.object({
  name: z.string(),
  role: z.enum(['head', 'worker']),
  group: z.string(),
  index: z.number(),
  pid: z.number(),
  startTicks: z.number().optional(),
  createdAt: z.string(),
  address: z.string(),
  resources: resourcesSchema,
});
type NodeRecord = z.infer<typeof nodeRecordSchema>;

/** A claim older than this without a started process belongs to a launcher that died. */
const CLAIM_TIMEOUT_MS = 30_000;
const DEFAULT_STOP_GRACE_MS = 30_000;
/** Every node of a local cluster runs here; the GCS listens on all interfaces, so loopback reaches it. */
const HEAD_HOST = '127.0.0.1';

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

  async launch(request: LaunchRequest): Promise<Instance> {
    await mkdir(this.nodesDir, { recursive: true });
    await mkdir(this.logsDir, { recursive: true });
    const address = request.role === 'head' ? `${HEAD_HOST}:${this.options.head.gcsPort}` : HEAD_HOST;
    const claim: NodeRecord = {
      name: request.name,
      role: request.role,
      group: request.group,
      index: request.index,
      pid: 0,
      createdAt: new Date().toISOString(),
      address,
      resources: request.resources,
    };
    const existing = await this.claim(claim);
    if (existing !== undefined) return existing;
    try {
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
      const handle = await startProcessGroup({
        command: await this.options.rayCommand(),
        args: rayStartArgs(request, {
          headHost: HEAD_HOST,
          head: this.options.head,
          dashboardHost: HEAD_HOST,
          sharedHost: {
            tempDir: path.join(this.options.tempDir, createHash('sha256').update(request.name).digest('hex').slice(0, 6)),
            dashboardAgentPort: await findFreePort(),
          },
        }),
        env: { ...process.env, ...request.env },
        logPath,
      });
      const record: NodeRecord = { ...claim, pid: handle.pid, startTicks: handle.startTicks };
      await this.writeRecord(record);
      return toInstance(record);
    } catch (error) {
      await rm(this.recordPath(request.name), { force: true });
      throw error;
    }
  }

  async terminate(name: string, signal?: AbortSignal): Promise<void> {
    const record = await this.readRecord(name);
    if (record === undefined) return;
    if (record.pid > 0) {
      await stopProcessGroup({ pid: record.pid, startTicks: record.startTicks }, this.options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS, signal);
    }
    await rm(this.recordPath(name), { force: true });
  }

  async list(): Promise<Instance[]> {
    let files: string[];
    try {
      files = await readdir(this.nodesDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new RayfleetError('PROVIDER_FAILED', `cannot read ${this.nodesDir}`, { cause: error });
    }
    const records = await Promise.all(files.filter((file) => file.endsWith('.json')).map((file) => this.readRecord(file.slice(0, -'.json'.length))));
    return records.filter((record) => record !== undefined).map(toInstance).sort(byRoleGroupIndex);
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
      const draft = `${this.recordPath(record.name)}.${process.pid}.claim`;
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

  private async readRecord(name: string): Promise<NodeRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.recordPath(name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new RayfleetError('PROVIDER_FAILED', `cannot read the record of ${name}`, { cause: error });
    }
    const parsed = nodeRecordSchema.safeParse(safeJson(text));
    if (!parsed.success) {
      throw new RayfleetError('PROVIDER_FAILED', `the record of ${name} (${this.recordPath(name)}) is unreadable; remove it once its processes are stopped`);
    }
    return parsed.data;
  }

  private async writeRecord(record: NodeRecord): Promise<void> {
    const target = this.recordPath(record.name);
    await writeFile(`${target}.tmp`, JSON.stringify(record));
    await rename(`${target}.tmp`, target);
  }
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
  if (record.pid === 0) return Date.now() - Date.parse(record.createdAt) < CLAIM_TIMEOUT_MS ? 'starting' : 'failed';
  const handle = { pid: record.pid, startTicks: record.startTicks };
  if (isLeaderAlive(handle)) return 'running';
  // The leader is gone: leftover children mean it crashed, none mean the node ended.
  return isGroupAlive(handle) ? 'failed' : 'stopped';
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function fileExists(filePath: string): Promise<boolean> {
  try {
    await access(filePath);
    return true;
  } catch {
    return false;
  }
}
