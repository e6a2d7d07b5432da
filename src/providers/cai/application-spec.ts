// What a node's CML application is: the CreateApplication body, from the launch request and the cluster's CML settings.
import { createHash } from 'node:crypto';
import type { LaunchRequest } from '../node-provider.js';
import type { HeadPorts } from '../../spec/schema.js';
import { resourceArgs } from '../ray-start-args.js';
import type { CreateApplicationRequest } from './cml/cml-types.js';
import { LAUNCHER_SCRIPT, projectTokenFile } from './project-layout.js';

export interface ApplicationContext {
  cluster: string;
  projectId: string;
  /** The runtime of this node's group (or the provider's). */
  runtimeIdentifier: string;
  head: HeadPorts;
  /** host:port of the head's GCS, once it has published it; workers wait for it otherwise. */
  headAddress?: string | undefined;
  /** The venv the setup job built; the launcher's default ($HOME/.venv) when absent. */
  venv?: string | undefined;
  /** The Node flags of the watcher the head runs inside the cluster; undefined when it runs none. */
  watcherNodeFlags: readonly string[] | undefined;
  /** The head application alone may be public (provider.frontDoor: public); every other stays behind CML's login. */
  publicHead?: boolean;
}

/** How the watcher's Node flags reach the head's launcher (launchers/ray_launcher.py), which starts the watcher with the venv's Node. */
export const WATCHER_NODE_FLAGS_ENV = 'RAYFLEET_WATCHER_NODE_FLAGS';

const GIB = 2 ** 30;
/** Room for Ray's own processes beside the object store, when the group names no memory. */
const DEFAULT_MEMORY_BYTES = 2 * GIB;

/** A DNS label CML accepts (lowercase words joined by single dashes), unique in the workspace: the project is part of it. */
export function subdomainFor(name: string, projectId: string): string {
  const base = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  const project = createHash('sha256').update(projectId).digest('hex').slice(0, 6);
  return `${base.slice(0, 63 - project.length - 1)}-${project}`;
}

export function applicationRequest(request: LaunchRequest, context: ApplicationContext): CreateApplicationRequest {
  const { resources } = request;
  const environment: Record<string, string> = {
    ...request.env,
    RAYFLEET_ROLE: request.role,
    RAYFLEET_CLUSTER: context.cluster,
    RAYFLEET_NODE: request.name,
    RAYFLEET_RAY_ARGS: JSON.stringify(resourceArgs(resources)),
    RAYFLEET_HEAD_PORTS: JSON.stringify({ gcsPort: context.head.gcsPort, dashboardPort: context.head.dashboardPort, clientPort: context.head.clientPort, servePort: context.head.servePort }),
  };
  // The token travels as the project's copy of the file (relative to $HOME), never as a value in the application.
  if (environment.RAY_AUTH_TOKEN_PATH !== undefined) environment.RAY_AUTH_TOKEN_PATH = projectTokenFile(context.cluster);
  if (context.venv !== undefined) environment.RAYFLEET_VENV = context.venv;
  if (request.role === 'worker' && context.headAddress !== undefined) environment.RAY_HEAD_ADDRESS = context.headAddress;
  if (request.role === 'head' && context.watcherNodeFlags !== undefined) {
    environment.RAYFLEET_WATCHER = '1';
    environment[WATCHER_NODE_FLAGS_ENV] = context.watcherNodeFlags.join(' ');
  }
  const memoryBytes = (resources.memoryBytes ?? DEFAULT_MEMORY_BYTES) + (resources.objectStoreMemoryBytes ?? 0);
  return {
    name: request.name,
    subdomain: subdomainFor(request.name, context.projectId),
    description: `rayfleet: ${request.role} of Ray cluster ${context.cluster}`,
    script: LAUNCHER_SCRIPT,
    // A head that schedules no work (cpus: 0) still needs a CPU for Ray's own processes.
    cpu: Math.max(resources.cpus, 1),
    memory: Math.ceil(memoryBytes / GIB),
    nvidia_gpu: Math.ceil(resources.gpus),
    environment,
    runtime_identifier: context.runtimeIdentifier,
    // Said every time rather than left to the workspace's default: only a head the user made public is public.
    bypass_authentication: request.role === 'head' && context.publicHead === true,
  };
}
