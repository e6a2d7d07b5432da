// The docker backend: one container per node on a network of the cluster's own, found again by its labels.
import { RayfleetError } from '../../errors.js';
import { assertNodeName, headName } from '../node-names.js';
import { byRoleGroupIndex, type GcsStore, type Instance, type InstanceState, type LaunchRequest, type LogOptions, type NodeProvider, type NodeResources } from '../node-provider.js';
import type { ContainerSummary } from './docker-types.js';
import type { DockerEngine } from './docker-engine.js';
import { containerSpec, LABELS, type ContainerContext } from './container-spec.js';
import { ensureClusterNetwork } from './cluster-network.js';

export interface DockerProviderOptions extends ContainerContext {
  engine: DockerEngine;
  /** How long a node may take to stop on SIGTERM before the engine kills it. */
  stopGraceSeconds?: number;
  /** head.faultTolerance: the head must come back on its address, so it needs a network that keeps one for it. */
  headFaultTolerance?: boolean;
  onProgress?: (line: string) => void;
}

/** A container created but never started after this long belongs to a launcher that died. */
const CREATED_TIMEOUT_MS = 30_000;
const DEFAULT_STOP_GRACE_SECONDS = 30;
/**
 * The head's GCS store, in its container's own disk: kept while the container is (a restart in place), gone with it.
 * Not under /tmp/ray, which provider.logsDir mounts from this host; /tmp, as every image's user can write there.
 */
export const CONTAINER_GCS_STORE_PATH = '/tmp/rayfleet/gcs-store';

export class DockerProvider implements NodeProvider {
  readonly type = 'docker';
  /** The network, made once per provider: the head's kept address on it, if it keeps one. */
  private network: Promise<string | undefined> | undefined;
  private image: Promise<void> | undefined;

  constructor(private readonly options: DockerProviderOptions) {}

  async launch(request: LaunchRequest, signal?: AbortSignal): Promise<Instance> {
    const { engine } = this.options;
    const headAddress = await this.ensureNetwork(signal);
    if (request.role === 'head' && this.options.headFaultTolerance === true && headAddress === undefined) {
      throw new RayfleetError('USAGE', `head.faultTolerance needs a network that keeps the head's address, and ${this.options.network} was not made by this rayfleet`, {
        details: 'A restarted head must come back on its address. Leave provider.network unset (or name one that does not exist yet) so that rayfleet makes it, or `docker network rm` the old one.',
      });
    }
    const body = containerSpec(request, this.options, headAddress);
    for (let attempt = 0; ; attempt++) {
      const created = await engine.createContainer(request.name, body, signal);
      if (created === 'no-image') {
        if (attempt > 0) throw imageMissing(this.options.image);
        await this.ensureImage(signal);
        continue;
      }
      if (created === 'conflict') {
        // The name is the claim: one engine never holds two containers of one name.
        const held = await this.find(request.name, signal);
        if (held === undefined) continue;
        this.assertOurs(held);
        const state = stateOf(held);
        // Created but not started: a launcher died between the two calls, recently enough to finish its work.
        if (held.State === 'created' && state === 'starting') return this.start(held.Id, request, signal);
        if (state === 'running' || state === 'starting') return toInstance(held, this.options.network);
        // What is left of a node that ended: removed, so the name can be used again.
        await engine.removeContainer(held.Id, signal);
        continue;
      }
      return this.start(created.id, request, signal);
    }
  }

  async terminate(name: string, signal?: AbortSignal): Promise<void> {
    const held = await this.find(name, signal);
    if (held === undefined) return;
    await this.options.engine.stopContainer(held.Id, this.options.stopGraceSeconds ?? DEFAULT_STOP_GRACE_SECONDS, signal);
    await this.options.engine.removeContainer(held.Id, signal);
  }

  gcsStore(): GcsStore {
    return { path: CONTAINER_GCS_STORE_PATH, clear: (signal) => this.removeEndedHead(signal) };
  }

  /**
   * The same head container started again, once it is not running: no process of a container outlives it, so a container
   * that stopped proves its Ray gone, and one that runs (a GCS that hangs) is left, resolving undefined. Its disk keeps
   * the store and its network endpoint the pinned address, and its published ports are in its own config; its Ray temp
   * dir names the last address (ray_current_cluster), which `ray start --head` refuses only while a raylet in the
   * container's own process namespace names it, and that namespace is new at every start. A start that fails leaves the
   * container (and its store) for the next attempt. With no container at all there is no store left: the head is launched
   * anew, on the kept address.
   */
  async restartHead(request: LaunchRequest, signal?: AbortSignal): Promise<Instance | undefined> {
    const held = await this.find(request.name, signal);
    if (held === undefined) return this.launch(request, signal);
    this.assertOurs(held);
    const state = stateOf(held);
    if (state !== 'stopped' && state !== 'failed') return undefined;
    try {
      await this.options.engine.startContainer(held.Id, signal);
    } catch (error) {
      throw startFailure(error, request);
    }
    const started = await this.find(request.name, signal);
    if (started === undefined) throw new RayfleetError('NODE_START_FAILED', `${request.name} was removed as soon as it started again`);
    return toInstance(started, this.options.network);
  }

  async list(signal?: AbortSignal): Promise<Instance[]> {
    const containers = await this.options.engine.listContainers([`${LABELS.cluster}=${this.options.cluster}`], signal);
    return containers.map((container) => toInstance(container, this.options.network)).sort(byRoleGroupIndex);
  }

  async *logs(name: string, options: LogOptions = {}): AsyncIterable<string> {
    assertNodeName(name, this.options.cluster);
    const held = await this.find(name, options.signal);
    if (held === undefined) throw new RayfleetError('NODE_NOT_FOUND', `no container named ${name} in cluster ${this.options.cluster}`);
    yield* this.options.engine.containerLogs(held.Id, options);
  }

  /** Removes the cluster's network once its nodes are gone; a network rayfleet did not make, or one still in use, stays. */
  async cleanup(signal?: AbortSignal): Promise<void> {
    const network = await this.options.engine.inspectNetwork(this.options.network, signal);
    if (network?.Labels?.[LABELS.cluster] !== this.options.cluster) return;
    const removed = await this.options.engine.removeNetwork(network.Id, signal);
    if (!removed) this.options.onProgress?.(`network ${this.options.network} is still used by other containers; left in place`);
  }

  private async start(id: string, request: LaunchRequest, signal: AbortSignal | undefined): Promise<Instance> {
    try {
      await this.options.engine.startContainer(id, signal);
    } catch (error) {
      await this.options.engine.removeContainer(id).catch(() => undefined);
      throw startFailure(error, request);
    }
    const held = await this.find(request.name, signal);
    if (held === undefined) throw new RayfleetError('NODE_START_FAILED', `${request.name} was removed as soon as it started`);
    return toInstance(held, this.options.network);
  }

  /** The container holding the name, ours or not: the engine's names are unique, so this is the claim. */
  private async find(name: string, signal: AbortSignal | undefined): Promise<ContainerSummary | undefined> {
    const inspected = await this.options.engine.inspectContainer(name, signal);
    if (inspected === undefined) return undefined;
    return {
      Id: inspected.Id,
      Names: [inspected.Name],
      Image: inspected.Config.Image ?? '',
      Created: Date.parse(inspected.Created) / 1000,
      State: inspected.State.Status,
      Status: inspected.State.Status === 'exited' ? `Exited (${inspected.State.ExitCode})` : inspected.State.Status,
      Labels: inspected.Config.Labels ?? {},
      NetworkSettings: inspected.NetworkSettings,
    };
  }

  /**
   * For a fresh cluster, its store must not be a previous one's: a head container of this cluster that is not running
   * (left by a cluster that was never taken down) is removed with its disk, as `up` would replace it anyway. One that runs
   * is left, its GCS holding the same state in memory. After `down` there is no container left, and nothing to do.
   */
  private async removeEndedHead(signal: AbortSignal | undefined): Promise<void> {
    const held = await this.find(headName(this.options.cluster), signal);
    if (held === undefined || held.Labels[LABELS.cluster] !== this.options.cluster) return;
    const state = stateOf(held);
    if (state === 'stopped' || state === 'failed') await this.options.engine.removeContainer(held.Id, signal);
  }

  private assertOurs(held: ContainerSummary): void {
    if (held.Labels[LABELS.cluster] === this.options.cluster) return;
    const name = held.Names[0]?.replace(/^\//, '') ?? held.Id;
    throw new RayfleetError('DOCKER_FAILED', `a container named ${name} exists and is not part of cluster ${this.options.cluster}`, {
      details: `Remove it (\`docker rm -f ${name}\`) or give this cluster another name.`,
    });
  }

  /** Made once per provider; concurrent launches share the one request. */
  private ensureNetwork(signal: AbortSignal | undefined): Promise<string | undefined> {
    this.network ??= ensureClusterNetwork(this.options.engine, this.options.network, this.options.cluster, signal);
    this.network.catch(() => (this.network = undefined));
    return this.network;
  }

  /** Pulls the image as `docker run` would; where no registry answers, says how to build one. */
  private ensureImage(signal: AbortSignal | undefined): Promise<void> {
    this.image ??= (async () => {
      const { engine, image } = this.options;
      if (await engine.imageExists(image, signal)) return;
      this.options.onProgress?.(`pulling ${image}`);
      try {
        await engine.pullImage(image, signal);
      } catch (error) {
        throw imageMissing(image, error);
      }
    })();
    this.image.catch(() => (this.image = undefined));
    return this.image;
  }
}

/** A start the engine refused; a head's port taken on this host says which setting moves it. */
function startFailure(error: unknown, request: LaunchRequest): unknown {
  if (request.role === 'head' && /port is already allocated|address already in use/i.test(String((error as Error).message))) {
    return new RayfleetError('PORT_IN_USE', `a port ${request.name} publishes is taken on this host`, {
      cause: error,
      details: 'Another cluster or program holds it. Give this cluster another provider.portOffset in rayfleet.yaml (e.g. 100).',
    });
  }
  return error;
}

function imageMissing(image: string, cause?: unknown): RayfleetError {
  return new RayfleetError('IMAGE_NOT_FOUND', `the image ${image} is not on this Docker Engine and could not be pulled`, {
    cause,
    details:
      `Pull it (\`docker pull ${image}\`), or build one with Ray installed and \`ray\` on its PATH and name it in rayfleet.yaml ` +
      '(provider: { type: docker, image: my/ray:tag }) or in RAY_IMAGE_VERSION.',
  });
}

function toInstance(container: ContainerSummary, network: string): Instance {
  const labels = container.Labels;
  const name = container.Names[0]?.replace(/^\//, '') ?? container.Id;
  return {
    name,
    role: labels[LABELS.role] === 'head' ? 'head' : 'worker',
    group: labels[LABELS.group] ?? 'unknown',
    index: Number(labels[LABELS.index] ?? 0),
    providerId: container.Id.slice(0, 12),
    state: stateOf(container),
    address: container.NetworkSettings?.Networks?.[network]?.IPAddress || undefined,
    createdAt: new Date(container.Created * 1000),
    resources: parseResources(labels[LABELS.resources]),
  };
}

/** The engine's container states in the provider's words; the exit code tells a node that ended from one that died. */
export function stateOf(container: Pick<ContainerSummary, 'State' | 'Status' | 'Created'>): InstanceState {
  switch (container.State) {
    case 'running':
    case 'paused':
      return 'running';
    case 'restarting':
      return 'starting';
    case 'created':
      return Date.now() - container.Created * 1000 < CREATED_TIMEOUT_MS ? 'starting' : 'failed';
    case 'removing':
      return 'stopping';
    case 'exited': {
      const exitCode = /Exited \((-?\d+)\)/.exec(container.Status)?.[1];
      return exitCode === '0' ? 'stopped' : 'failed';
    }
    default:
      return 'failed';
  }
}

function parseResources(text: string | undefined): NodeResources {
  try {
    const parsed = JSON.parse(text ?? '') as NodeResources;
    return { cpus: parsed.cpus ?? 0, gpus: parsed.gpus ?? 0, memoryBytes: parsed.memoryBytes, objectStoreMemoryBytes: parsed.objectStoreMemoryBytes, custom: parsed.custom ?? {} };
  } catch {
    return { cpus: 0, gpus: 0, custom: {} };
  }
}
