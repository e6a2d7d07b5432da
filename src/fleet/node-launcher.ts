// Launching a cluster's nodes: the requests and environment of each, the lowest free index of a group, and the group's
// max and maxWorkers, all decided under the cluster's launch lock so no two launchers (a command, the watcher) collide.
import { RayfleetError, isRayfleetError, messageOf } from '../errors.js';
import type { NewEvent } from '../journal/event.js';
import { HEAD_GROUP, headName, nextFreeIndices, workerName } from '../providers/node-names.js';
import type { Instance, LaunchRequest, NodeProvider } from '../providers/node-provider.js';
import { CLUSTER_ID_VARIABLE } from '../providers/orphan-process.js';
import { nodeResourcesOf } from '../providers/node-resources.js';
import { listAccountingForAll } from '../providers/partial-list-error.js';
import type { ClusterSpec } from '../spec/schema.js';
import { groupNamed } from '../spec/worker-groups.js';

export interface NodeLauncherContext {
  cluster: string;
  /** The spec now: a live change of a group's max counts from the next launch on. */
  spec: () => Promise<ClusterSpec>;
  provider: () => Promise<NodeProvider>;
  /** Runs `work` holding the cluster's launch lock. */
  withLaunchLock: <T>(signal: AbortSignal | undefined, work: () => Promise<T>) => Promise<T>;
  /** What every node's Ray processes need to reach the cluster (its auth token, by path). */
  authEnv: () => Promise<Record<string, string>>;
  /** The cluster's own id, which every node carries (none for a cluster whose record predates it). */
  clusterId: () => string | undefined;
  record: (event: NewEvent) => Promise<void>;
  /** Stops a node that ended on its own, freeing its name. */
  terminate: (name: string, reason: string, signal?: AbortSignal) => Promise<void>;
}

export interface LaunchWorkersOptions {
  /** Launch as many as the group's max and maxWorkers leave room for (the watcher, `up`), instead of refusing (add-worker). */
  upToLimits?: boolean;
  signal?: AbortSignal | undefined;
  /** Names are added here as they are launched, so a caller can stop them if something fails later. */
  started?: string[];
}

export class NodeLauncher {
  constructor(private readonly context: NodeLauncherContext) {}

  async launchHead(reason: string, signal?: AbortSignal): Promise<Instance> {
    return this.launch(await this.headRequest(), reason, signal);
  }

  /** The head's launch request: the same every time, so a restarted head comes back as it was. */
  async headRequest(): Promise<LaunchRequest> {
    const spec = await this.context.spec();
    const name = headName(this.context.cluster);
    const env = { ...(await this.nodeEnv(name, HEAD_GROUP)), ...gcsStoreEnv(spec, await this.context.provider()) };
    return { name, role: 'head', group: HEAD_GROUP, index: 0, resources: nodeResourcesOf(spec.head), env };
  }

  /** Launches `count` workers of a group at its lowest free indices, in parallel, without waiting for Ray. */
  async launchWorkers(groupName: string, count: number, reason: string, options: LaunchWorkersOptions = {}): Promise<Instance[]> {
    const { signal, started = [] } = options;
    const provider = await this.context.provider();
    return this.context.withLaunchLock(signal, async () => {
      const spec = await this.context.spec();
      const group = groupNamed(spec, groupName);
      // Nodes the list accounts for but cannot read (an SSH host that does not answer) keep their names and places.
      const { instances } = await listAccountingForAll(() => provider.list(signal));
      // Stopped nodes hold their index until removed; clear them so their names are free again.
      for (const ended of instances.filter((instance) => instance.group === group.name && instance.state === 'stopped')) {
        await this.context.terminate(ended.name, 'ended on its own', signal);
      }
      const live = instances.filter((instance) => instance.role === 'worker' && instance.state !== 'stopped');
      const inGroup = live.filter((instance) => instance.group === group.name);
      const room = Math.max(0, Math.min(group.max - inGroup.length, spec.watcher.maxWorkers - live.length));
      // All or nothing: a request that does not fit whole launches none of it.
      if (count > room && options.upToLimits !== true) {
        throw new RayfleetError(
          'GROUP_AT_MAX',
          `group ${group.name} has room for ${room} more worker${room === 1 ? '' : 's'}, not ${count}: it has ${inGroup.length} of at most ${group.max} (${live.length} of maxWorkers ${spec.watcher.maxWorkers} in all)`,
          {
            details: `${room === 0 ? 'Remove a worker' : `Ask for at most ${room}`}, or raise workerGroups[${group.name}].max (or watcher.maxWorkers): in rayfleet.yaml then \`rayfleet up\`, or live with PATCH /watcher.`,
          },
        );
      }
      const indices = nextFreeIndices(inGroup.map((instance) => instance.index), Math.min(count, room));
      const authEnv = await this.context.authEnv();
      const launches = await Promise.allSettled(
        indices.map((index) => {
          const name = workerName(this.context.cluster, group.name, index);
          started.push(name);
          const request: LaunchRequest = { name, role: 'worker', group: group.name, index, resources: nodeResourcesOf(group), env: { ...nodeEnv(name, group.name, authEnv, this.context.clusterId()), ...reconnectEnv(spec) } };
          return this.launch(request, reason, signal);
        }),
      );
      // Every launch has ended before a failure is told, so a caller that stops what was started stops no launch midway.
      const failed = launches.find((launch) => launch.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      return launches.flatMap((launch) => (launch.status === 'fulfilled' ? [launch.value] : []));
    });
  }

  private async nodeEnv(name: string, group: string): Promise<Record<string, string>> {
    return nodeEnv(name, group, await this.context.authEnv(), this.context.clusterId());
  }

  private async launch(request: LaunchRequest, reason: string, signal: AbortSignal | undefined): Promise<Instance> {
    try {
      const instance = await (await this.context.provider()).launch(request, signal);
      await this.context.record({ type: 'launch', node: request.name, group: request.group, reason, cpus: request.resources.cpus, gpus: request.resources.gpus });
      return instance;
    } catch (error) {
      await this.context.record({ type: 'launch-failed', node: request.name, group: request.group, reason: messageOf(error), code: isRayfleetError(error) ? error.code : 'UNKNOWN' });
      throw error;
    }
  }
}

/**
 * How long a worker's raylet waits for a GCS that went away before it exits (Ray's default is 60 s). With fault tolerance
 * on, long enough for the watcher to see the head gone, prove it, and start it again through a few backed-off attempts;
 * not KubeRay's 600 s, so that workers of a head that does not come back end within minutes rather than ten.
 */
export const GCS_RECONNECT_TIMEOUT_S = 180;

function reconnectEnv(spec: ClusterSpec): Record<string, string> {
  return spec.head.faultTolerance === true ? { RAY_gcs_rpc_server_reconnect_timeout_s: String(GCS_RECONNECT_TIMEOUT_S) } : {};
}

/** The head's embedded GCS store, where fault tolerance is on; a backend without a place for it refuses. */
function gcsStoreEnv(spec: ClusterSpec, provider: NodeProvider): Record<string, string> {
  if (spec.head.faultTolerance !== true) return {};
  const storePath = provider.gcsStore?.().path;
  if (storePath === undefined) throw new RayfleetError('USAGE', `head.faultTolerance is not available on provider ${provider.type} yet: its head has no store of its own`);
  return { RAY_gcs_storage: 'rocksdb', RAY_gcs_storage_path: storePath };
}

function nodeEnv(name: string, group: string, authEnv: Record<string, string>, clusterId: string | undefined): Record<string, string> {
  return {
    ...authEnv,
    // Names repeat across homes and machines; the id tells this cluster's processes apart (the orphan sweep).
    ...(clusterId === undefined ? {} : { [CLUSTER_ID_VARIABLE]: clusterId }),
    // How Ray's GCS reports each node back as ours: never match nodes by IP.
    RAY_CLOUD_INSTANCE_ID: name,
    RAY_NODE_TYPE_NAME: group,
    // rayfleet drains a node before it stops it; Ray's own drain on SIGTERM would only add 30 s (2.60) to every stop.
    RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S: '0',
  };
}

