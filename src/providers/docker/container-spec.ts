// What a node's container is: the create body for the Engine API, from the launch request and the cluster's Docker settings.
import { headName } from '../node-names.js';
import type { LaunchRequest } from '../node-provider.js';
import { rayStartArgs, type HeadPorts } from '../ray-start-args.js';
import type { ContainerCreateBody, PortBinding } from './docker-types.js';

/** The labels that make a container a node of a cluster: listing by them is the truth of what exists. */
export const LABELS = {
  cluster: 'rayfleet.cluster',
  group: 'rayfleet.group',
  index: 'rayfleet.index',
  role: 'rayfleet.role',
  resources: 'rayfleet.resources',
  /** On the cluster's network: the address kept for the head (cluster-network.ts). */
  headAddress: 'rayfleet.head-address',
} as const;

export interface ContainerContext {
  cluster: string;
  image: string;
  network: string;
  head: HeadPorts & { servePort: number };
  /** Added to every port the head publishes on the host, so clusters side by side do not collide. */
  portOffset: number;
  /** A host directory mounted at /workspace and used as the working directory, as the old `-v $(pwd):/workspace`. */
  workspace?: string | undefined;
  /** A host directory that receives each node's Ray logs (its /tmp/ray) under `<dir>/<node>/`. */
  rayLogsDir?: string | undefined;
}

/** Where a node reads the cluster's auth token: the host's file, mounted read-only. */
export const CONTAINER_TOKEN_PATH = '/run/rayfleet/auth_token';
/** Shared memory beyond the object store, for Ray's other users of /dev/shm. */
const SHM_HEADROOM_BYTES = 256 * 2 ** 20;

/** `headAddress`: the head's kept address on the network, pinned to the head's container so it keeps it across restarts. */
export function containerSpec(request: LaunchRequest, context: ContainerContext, headAddress?: string): ContainerCreateBody {
  const { resources } = request;
  const binds: string[] = [];
  // `ray start`'s output reaches `docker logs` line by line, not when a pipe buffer fills.
  const env: Record<string, string> = { PYTHONUNBUFFERED: '1', ...request.env };
  // The token travels as a file, never as a value in the container's environment (which `docker inspect` shows).
  const tokenPath = env.RAY_AUTH_TOKEN_PATH;
  if (tokenPath !== undefined && tokenPath !== '') {
    binds.push(`${tokenPath}:${CONTAINER_TOKEN_PATH}:ro`);
    env.RAY_AUTH_TOKEN_PATH = CONTAINER_TOKEN_PATH;
  }
  if (context.workspace !== undefined) binds.push(`${context.workspace}:/workspace`);
  if (context.rayLogsDir !== undefined) binds.push(`${context.rayLogsDir}/${request.name}:/tmp/ray`);

  const isHead = request.role === 'head';
  const published = isHead ? headPortBindings(context) : undefined;
  const objectStore = resources.objectStoreMemoryBytes ?? 0;
  return {
    Image: context.image,
    Cmd: ['ray', ...rayStartArgs(request, { headHost: headName(context.cluster), head: context.head, dashboardHost: '0.0.0.0' })],
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    Labels: {
      [LABELS.cluster]: context.cluster,
      [LABELS.group]: request.group,
      [LABELS.index]: String(request.index),
      [LABELS.role]: request.role,
      [LABELS.resources]: JSON.stringify(resources),
    },
    Hostname: request.name,
    ...(context.workspace === undefined ? {} : { WorkingDir: '/workspace' }),
    ...(published === undefined ? {} : { ExposedPorts: Object.fromEntries(Object.keys(published).map((port) => [port, {}])) }),
    HostConfig: {
      // tini as PID 1 forwards SIGTERM to `ray start` and reaps Ray's orphans, as the old --init did.
      Init: true,
      NetworkMode: context.network,
      // Ray's object store lives in /dev/shm; Docker's 64 MB default would push it to disk.
      ShmSize: Math.ceil(objectStore + SHM_HEADROOM_BYTES),
      ...(resources.cpus > 0 ? { NanoCpus: Math.round(resources.cpus * 1e9) } : {}),
      // Ray's logical memory plus the object store (in /dev/shm, charged to the container): the most the node should use.
      ...(resources.memoryBytes === undefined ? {} : { Memory: Math.ceil(resources.memoryBytes + objectStore) }),
      ...(resources.gpus > 0 ? { DeviceRequests: [{ Driver: 'nvidia', Count: Math.ceil(resources.gpus), Capabilities: [['gpu']] }] } : {}),
      ...(binds.length > 0 ? { Binds: binds } : {}),
      ...(published === undefined ? {} : { PortBindings: published }),
    },
    NetworkingConfig: {
      EndpointsConfig: {
        [context.network]: { Aliases: [request.name], ...(isHead && headAddress !== undefined ? { IPAMConfig: { IPv4Address: headAddress } } : {}) },
      },
    },
  };
}

/**
 * The head's ports on the host, each shifted by the offset: dashboard, client and Serve for everyone, as the old toolkit
 * published them; the GCS on loopback only, for the watcher and `status` on this host.
 */
export function headPortBindings(context: Pick<ContainerContext, 'head' | 'portOffset'>): Record<string, PortBinding[]> {
  const { head, portOffset } = context;
  const bind = (port: number, hostIp: string): [string, PortBinding[]] => [`${port}/tcp`, [{ HostIp: hostIp, HostPort: String(port + portOffset) }]];
  return Object.fromEntries([
    bind(head.gcsPort, '127.0.0.1'),
    bind(head.dashboardPort, '0.0.0.0'),
    bind(head.clientPort, '0.0.0.0'),
    bind(head.servePort, '0.0.0.0'),
  ]);
}
