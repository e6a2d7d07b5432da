// The cai backend: one CML application per node, running rayfleet's launcher; the project's applications are the truth.
import { readFile } from 'node:fs/promises';
import { RayfleetError, isRayfleetError } from '../../errors.js';
import { pollUntil } from '../../wait/poll-until.js';
import { HEAD_GROUP, headName } from '../node-names.js';
import { byRoleGroupIndex, type FrontDoor, type FrontDoorAccess, type Instance, type InstanceState, type LaunchRequest, type LogOptions, type NodeProvider } from '../node-provider.js';
import { PartialListError } from '../partial-list-error.js';
import type { FrontDoorMode, HeadPorts } from '../../spec/schema.js';
import { applicationRequest } from './application-spec.js';
import type { CmlClient } from './cml/cml-client.js';
import type { Application, ApplicationStatus } from './cml/cml-types.js';
import { answeredByDoor, DEFAULT_DOOR_BODY_LIMIT_BYTES, frontDoorAccess, ingressAnswer, probeDoor, publicRefused } from './front-door-access.js';
import { headApplicationUrl, readHeadDashboardToken } from './head-application.js';
import { headAddressFile, headDashboardTokenFile, nodeLogFile, projectRecordFile, projectStateDir, projectTokenFile } from './project-layout.js';

export interface CaiProviderOptions {
  client: CmlClient;
  projectId: string;
  cluster: string;
  /** The runtime of every application whose group names none. */
  runtimeIdentifier?: string | undefined;
  /** Per worker group, a runtime of its own (a CUDA one for GPUs). */
  groupRuntimes: Record<string, string | undefined>;
  head: HeadPorts;
  venv?: string | undefined;
  /** The Node flags of the watcher the head runs inside the cluster; undefined when it runs none. */
  watcherNodeFlags?: readonly string[] | undefined;
  /** The workspace's URL, under which the head application is served. */
  workspaceUrl: string;
  /** How commands outside CML's network reach the head (provider.frontDoor); `auto` when absent. */
  frontDoor?: FrontDoorMode | undefined;
  /** The API key, for an ingress that takes it in front of the head application. */
  apiKey?: string | undefined;
  /** host:port where the workspace's applications are reached, where their names do not resolve here (RAYFLEET_CAI_INGRESS). */
  ingress?: string | undefined;
  /** The largest request the ingress takes (provider.frontDoorBodyLimit). */
  frontDoorBodyLimit?: number | undefined;
  /** This rayfleet runs in a CML workload (CDSW_ENGINE_ID), inside the network where pod addresses are reached. */
  insideCml?: boolean;
  /**
   * Inside the cluster the head's address is known without asking the project (RAYFLEET_CAI_HEAD_ADDRESS, set by
   * the head's launcher for its watcher); so it also says this rayfleet runs inside the cluster.
   */
  knownHeadAddress?: string | undefined;
  /** How long a deleted application may stay listed. */
  deleteTimeoutMs?: number;
  /** How often `logs --follow` reads the log file again. */
  followIntervalMs?: number;
  /** The cluster's record on this machine, copied into the project for the watcher inside the cluster. */
  clusterRecordPath?: string | undefined;
}

const DEFAULT_DELETE_TIMEOUT_MS = 120_000;
/** A CML application can take minutes to start (a runtime image pulled onto a new node, a pod waiting for capacity). */
export const CAI_LAUNCH_TIMEOUT_MS = 15 * 60_000;
const STATES: Record<ApplicationStatus, InstanceState> = {
  APPLICATION_UNKNOWN: 'starting',
  APPLICATION_STARTING: 'starting',
  APPLICATION_RUNNING: 'running',
  APPLICATION_STOPPING: 'stopping',
  APPLICATION_STOPPED: 'stopped',
  APPLICATION_FAILED: 'failed',
};

export class CaiProvider implements NodeProvider {
  readonly type = 'cai';
  readonly watcherRunsOnHead = true;
  readonly runningMeansRayUp = true;
  /** How long a launched node may take to join Ray before the watcher counts it a failed launch. */
  readonly defaultLaunchTimeoutMs = CAI_LAUNCH_TIMEOUT_MS;

  constructor(private readonly options: CaiProviderOptions) {}

  async launch(request: LaunchRequest, signal?: AbortSignal): Promise<Instance> {
    const { client, projectId, cluster } = this.options;
    const runtimeIdentifier = this.options.groupRuntimes[request.group] ?? this.options.runtimeIdentifier;
    if (runtimeIdentifier === undefined) {
      throw new RayfleetError('USAGE', `a CML runtime is required for ${request.name}: set provider.runtimeIdentifier in rayfleet.yaml`, {
        details: 'List the runtimes of your workspace with `rayfleet cai runtimes --search python3.11`, and take an image_identifier (a GPU group may name its own).',
      });
    }
    const existing = await this.find(request.name, signal);
    if (existing !== undefined) {
      const state = STATES[existing.status];
      if (state === 'running' || state === 'starting') return this.toInstance(existing);
      // An application that ended is removed, so the name can start afresh.
      await this.deleteAndWait(existing, signal);
    }
    if (request.role === 'head') await this.prepareHead(request, signal);
    const headAddress = request.role === 'worker' ? await this.headAddress(signal) : undefined;
    const publicHead = request.role === 'head' && this.options.frontDoor === 'public';
    const body = applicationRequest(request, {
      cluster,
      projectId,
      runtimeIdentifier,
      head: this.options.head,
      headAddress,
      venv: this.options.venv,
      watcherNodeFlags: this.options.watcherNodeFlags,
      publicHead,
    });
    if (!publicHead) return this.toInstance(await client.createApplication(projectId, body, signal));
    const created = await client.createApplication(projectId, body, signal).catch((error: unknown) => {
      // What CML answers when its administrator has not allowed public applications is not documented: a 4xx is one way.
      if (isRayfleetError(error, 'CAI_FAILED') || isRayfleetError(error, 'CAI_AUTH')) throw publicRefused(cluster, `the API refused bypass_authentication: true (${error.message})`, error);
      throw error;
    });
    await this.confirmPublic(created, signal);
    return this.toInstance((await this.find(request.name, signal)) ?? created);
  }

  /**
   * The other two undocumented ways: the field stored false, or stored true and not honoured, which only a request
   * without any credential shows (once the head serves): the door must answer it, not the ingress's login.
   */
  private async confirmPublic(created: Application, signal: AbortSignal | undefined): Promise<void> {
    const { cluster } = this.options;
    if (created.bypass_authentication !== true) throw publicRefused(cluster, 'the API stored bypass_authentication: false');
    const name = created.name ?? headName(cluster);
    await pollUntil(
      async () => {
        const status = (await this.find(name, signal))?.status;
        if (status === 'APPLICATION_FAILED' || status === 'APPLICATION_STOPPED' || status === undefined) {
          throw new RayfleetError('NODE_START_FAILED', `${name} ended before it served (${status ?? 'gone'})`, { details: `\`rayfleet logs ${name}\` shows its log.` });
        }
        return status === 'APPLICATION_RUNNING' ? true : undefined;
      },
      { timeoutMs: CAI_LAUNCH_TIMEOUT_MS, intervalMs: 1000, signal, describe: () => `${name} to run`, isFatal: (error) => isRayfleetError(error, 'NODE_START_FAILED') },
    );
    const answer = await probeDoor({ ...this.doorSettings(), cluster }, false, signal);
    if (!answeredByDoor(answer.headers)) throw publicRefused(cluster, `it stored bypass_authentication: true, but its ingress still answers a request without a login with ${ingressAnswer(answer)}`);
  }

  async terminate(name: string, signal?: AbortSignal): Promise<void> {
    const application = await this.find(name, signal);
    if (application !== undefined) await this.deleteAndWait(application, signal);
  }

  async list(signal?: AbortSignal): Promise<Instance[]> {
    const applications = await this.options.client.listApplications(this.options.projectId, { searchFilter: { name: `${this.options.cluster}-` } }, signal);
    return this.ours(applications).map((application) => this.toInstance(application)).sort(byRoleGroupIndex);
  }

  /** The node's log as its launcher writes it into the project; followed by reading the file again. */
  async *logs(name: string, options: LogOptions = {}): AsyncIterable<string> {
    const path = nodeLogFile(this.options.cluster, name);
    const read = async (): Promise<string[] | undefined> => {
      const text = await this.options.client.readTextFile(this.options.projectId, path, options.signal);
      return text === undefined ? undefined : text.split('\n').filter((line, index, lines) => index < lines.length - 1 || line !== '');
    };
    const first = await read();
    if (first === undefined) {
      if ((await this.find(name, options.signal)) === undefined) throw new RayfleetError('NODE_NOT_FOUND', `no application named ${name} in cluster ${this.options.cluster}`);
      return;
    }
    yield* options.tail === undefined ? first : first.slice(-options.tail);
    let seen = first.length;
    while (options.follow === true && options.signal?.aborted !== true) {
      await new Promise((resolve) => setTimeout(resolve, this.options.followIntervalMs ?? 1000));
      const lines = (await read().catch(() => undefined)) ?? [];
      yield* lines.slice(seen);
      seen = Math.max(seen, lines.length);
    }
  }

  /** The head's pod address, as it published it once Ray was up. */
  async headHost(signal?: AbortSignal): Promise<string | undefined> {
    const address = await this.headAddress(signal);
    return address?.slice(0, address.lastIndexOf(':'));
  }

  /** The head application on the workspace's ingress: rayfleet's dashboard for this cluster, Ray's under /ray/. */
  async frontDoor(): Promise<FrontDoor> {
    const url = headApplicationUrl(this.options.cluster, this.options.projectId, this.options.workspaceUrl);
    return { name: 'head application', url, rayDashboardUrl: `${url}/ray/` };
  }

  /** Through the head application, unless this machine is inside CML's network (the pod address then) or the door is off. */
  async frontDoorAccess(signal?: AbortSignal): Promise<FrontDoorAccess | undefined> {
    const mode = this.options.frontDoor ?? 'auto';
    if (mode === 'off' || this.options.insideCml === true || this.options.knownHeadAddress !== undefined) return undefined;
    return frontDoorAccess({ ...this.doorSettings(), mode, cluster: this.options.cluster, maxBodyBytes: this.options.frontDoorBodyLimit ?? DEFAULT_DOOR_BODY_LIMIT_BYTES }, signal);
  }

  private doorSettings(): { url: string; apiKey: string; connectTo: string | undefined } {
    const { cluster, projectId, workspaceUrl } = this.options;
    return { url: headApplicationUrl(cluster, projectId, workspaceUrl), apiKey: this.options.apiKey ?? '', connectTo: this.options.ingress };
  }

  /** The dashboard of this cluster runs in its head, which keeps its token in the project. */
  async dashboardToken(signal?: AbortSignal): Promise<string> {
    return readHeadDashboardToken(this.options.client, this.options.projectId, this.options.cluster, signal);
  }

  /** What the watcher in the head recorded; seen from inside the cluster it is the local journal already. */
  async remoteJournal(signal?: AbortSignal): Promise<string | undefined> {
    if (this.options.knownHeadAddress !== undefined) return undefined;
    return this.options.client.readTextFile(this.options.projectId, `${projectStateDir(this.options.cluster)}/journal.jsonl`, signal);
  }

  /**
   * Once every node is gone: the cluster's tokens leave the project (Ray's and the head dashboard's first), and the
   * record and head address with them. A delete that fails fails `down`, which can be run again, rather than leaving the token behind unsaid.
   */
  async cleanup(signal?: AbortSignal): Promise<void> {
    const { client, projectId, cluster } = this.options;
    for (const path of [projectTokenFile(cluster), headDashboardTokenFile(cluster), projectRecordFile(cluster), headAddressFile(cluster)]) {
      try {
        await client.deleteProjectFile(projectId, path, signal);
      } catch (error) {
        // Gone already is what cleanup wants (the dashboard's token is there only once the head's dashboard started).
        if (isRayfleetError(error, 'CAI_NOT_FOUND')) continue;
        throw new RayfleetError(isRayfleetError(error) ? error.code : 'CAI_FAILED', `could not remove ${path} from project ${projectId}: the cluster's tokens may still be there`, {
          cause: error,
          details: 'Every node is stopped; run `rayfleet down` again to remove the files.',
        });
      }
    }
  }

  private async headAddress(signal: AbortSignal | undefined): Promise<string | undefined> {
    if (this.options.knownHeadAddress !== undefined) return this.options.knownHeadAddress;
    const text = await this.options.client.readTextFile(this.options.projectId, headAddressFile(this.options.cluster), signal);
    return text?.trim() || undefined;
  }

  /** Before a head starts: the cluster's token in the project for every node, and no address left by an earlier head. */
  private async prepareHead(request: LaunchRequest, signal: AbortSignal | undefined): Promise<void> {
    const { client, projectId, cluster } = this.options;
    await client.deleteProjectFile(projectId, headAddressFile(cluster), signal).catch(() => undefined);
    // The in-cluster watcher's state: the same token and the record `up` wrote (its spec is the truth there too).
    const copies = [
      [request.env.RAY_AUTH_TOKEN_PATH, projectTokenFile(cluster)],
      [this.options.clusterRecordPath, projectRecordFile(cluster)],
    ] as const;
    for (const [from, to] of copies) {
      if (from !== undefined && from !== '') await client.uploadFile(projectId, to, await readFile(from), { replace: true }, signal);
    }
  }

  private async find(name: string, signal: AbortSignal | undefined): Promise<Application | undefined> {
    const found = await this.options.client.findApplicationsByName(this.options.projectId, name, signal);
    return this.ours(found).at(0);
  }

  /**
   * The applications of this cluster. One that bears a node's name but came without an environment cannot be told
   * apart from ours: leaving it out would read as a node gone (relaunched, or never stopped), so the list fails,
   * naming it, with the rest beside it for `down` to stop.
   */
  private ours(applications: Application[]): Application[] {
    const unknowable = applications.filter((application) => Object.keys(application.environment).length === 0 && this.isNodeName(application.name ?? ''));
    const ours = applications.filter((application) => this.isOurs(application));
    if (unknowable.length > 0) {
      throw new PartialListError(
        ours.map((application) => this.toInstance(application)),
        unknowable.map((application) => ({
          name: application.name ?? application.id,
          reason: `application ${application.id} came from the CML API without its environment: rayfleet cannot tell whether it is a node of cluster ${this.options.cluster} (if it is not rayfleet's, rename it)`,
        })),
      );
    }
    return ours;
  }

  /** `<cluster>-head`, or `<cluster>-<group>-<index>`. */
  private isNodeName(name: string): boolean {
    const { cluster } = this.options;
    return name === headName(cluster) || (name.startsWith(`${cluster}-`) && /-\d+$/.test(name));
  }

  private async deleteAndWait(application: Application, signal: AbortSignal | undefined): Promise<void> {
    const { client, projectId } = this.options;
    await client.deleteApplication(projectId, application.id, signal);
    // Deletion may finish after the call returns: the node is gone only once the list says so.
    await pollUntil(
      async () => ((await client.findApplicationsByName(projectId, application.name ?? '', signal)).some((candidate) => candidate.id === application.id) ? undefined : true),
      { timeoutMs: this.options.deleteTimeoutMs ?? DEFAULT_DELETE_TIMEOUT_MS, intervalMs: 500, signal, describe: () => `application ${application.name} to be deleted` },
    );
  }

  private isOurs(application: Application): boolean {
    return application.environment.RAYFLEET_CLUSTER === this.options.cluster && application.environment.RAYFLEET_NODE === application.name;
  }

  private toInstance(application: Application): Instance {
    const env = application.environment;
    const name = application.name ?? application.id;
    const isHead = name === headName(this.options.cluster);
    const index = Number(/-(\d+)$/.exec(name)?.[1] ?? 0);
    return {
      name,
      role: isHead ? 'head' : 'worker',
      group: isHead ? HEAD_GROUP : (env.RAY_NODE_TYPE_NAME ?? 'unknown'),
      index: isHead ? 0 : index,
      providerId: application.id,
      state: STATES[application.status],
      address: undefined,
      createdAt: new Date(application.created_at ?? Date.now()),
      resources: { cpus: application.cpu ?? 0, gpus: application.nvidia_gpu ?? 0, custom: {} },
    };
  }
}
