// The `ray start --block` command line of one node, for every backend: its role, its resources, and how it finds the head.
import type { LaunchRequest, NodeResources } from './node-provider.js';

export interface HeadPorts {
  gcsPort: number;
  dashboardPort: number;
  clientPort: number;
}

/** What only nodes that share one host (and its ports and /tmp) need, so they do not collide. */
export interface SharedHost {
  /**
   * Ray's session files for this node. One per node: nodes on one host sharing a temp dir race for the
   * same socket names and a raylet fails to register (seen with Ray 2.60). Short, because unix socket paths are capped at 107 bytes.
   */
  tempDir: string;
  /** A free port for this node's dashboard agent: its default (52365) is fixed and would collide. */
  dashboardAgentPort: number;
  /**
   * Whether this worker runs Ray's log monitor, which streams the output of the tasks on its host to their drivers:
   * one per host (the head's on its host) is enough, more print every line twice. Unset: not on a worker.
   */
  includeLogMonitor?: boolean;
}

export interface RayStartContext {
  /** Where workers find the head's GCS. */
  headHost: string;
  head: HeadPorts;
  /** The interface the head's dashboard listens on. */
  dashboardHost: string;
  /** Set when nodes share a host (local processes); absent when each node has its own (a container, an application). */
  sharedHost?: SharedHost;
}

export function rayStartArgs(request: LaunchRequest, context: RayStartContext): string[] {
  const { resources } = request;
  const { sharedHost } = context;
  const args = ['start', '--block', '--disable-usage-stats'];
  if (sharedHost !== undefined) args.push(`--temp-dir=${sharedHost.tempDir}`);
  if (request.role === 'head') {
    args.push(
      '--head',
      `--port=${context.head.gcsPort}`,
      `--dashboard-host=${context.dashboardHost}`,
      `--dashboard-port=${context.head.dashboardPort}`,
      `--ray-client-server-port=${context.head.clientPort}`,
    );
  } else {
    args.push(`--address=${context.headHost}:${context.head.gcsPort}`);
    // One log monitor per host is enough; more would print every driver log line twice.
    if (sharedHost !== undefined && sharedHost.includeLogMonitor !== true) args.push('--include-log-monitor=false');
  }
  args.push(...resourceArgs(resources));
  if (sharedHost !== undefined) {
    args.push(
      `--dashboard-agent-listen-port=${sharedHost.dashboardAgentPort}`,
      // 0 lets each raylet pick free worker ports, where the shared default range would collide.
      '--min-worker-port=0',
      '--max-worker-port=0',
    );
  }
  return args;
}

/** What the node offers Ray's scheduler, as `ray start` flags. */
export function resourceArgs(resources: NodeResources): string[] {
  const args = [`--num-cpus=${resources.cpus}`, `--num-gpus=${resources.gpus}`];
  if (resources.memoryBytes !== undefined) args.push(`--memory=${Math.floor(resources.memoryBytes)}`);
  if (resources.objectStoreMemoryBytes !== undefined) args.push(`--object-store-memory=${Math.floor(resources.objectStoreMemoryBytes)}`);
  if (Object.keys(resources.custom).length > 0) args.push(`--resources=${JSON.stringify(resources.custom)}`);
  return args;
}
