// The `ray start --block` command line of one local node: its resources, and ports that do not collide with other nodes on this host.
import type { LaunchRequest } from '../node-provider.js';

export interface HeadPorts {
  gcsPort: number;
  dashboardPort: number;
  clientPort: number;
}

export interface RayStartContext {
  /** Where workers find the head's GCS; Ray itself advertises the host's address for every node. */
  headHost: string;
  head: HeadPorts;
  /**
   * Ray's session files for this node. One per node: nodes on one host sharing a temp dir race for the
   * same socket names and a raylet fails to register (seen with Ray 2.60). Short, because unix socket paths are capped at 107 bytes.
   */
  tempDir: string;
  /** A free port for this node's dashboard agent: its default (52365) is fixed and would collide. */
  dashboardAgentPort: number;
}

export function rayStartArgs(request: LaunchRequest, context: RayStartContext): string[] {
  const { resources } = request;
  const args = ['start', '--block', '--disable-usage-stats', `--temp-dir=${context.tempDir}`];
  if (request.role === 'head') {
    args.push(
      '--head',
      `--port=${context.head.gcsPort}`,
      `--dashboard-host=${context.headHost}`,
      `--dashboard-port=${context.head.dashboardPort}`,
      `--ray-client-server-port=${context.head.clientPort}`,
    );
  } else {
    args.push(`--address=${context.headHost}:${context.head.gcsPort}`);
    // One log monitor per host is enough; more would print every driver log line twice.
    args.push('--include-log-monitor=false');
  }
  args.push(
    `--num-cpus=${resources.cpus}`,
    `--num-gpus=${resources.gpus}`,
    `--dashboard-agent-listen-port=${context.dashboardAgentPort}`,
    // 0 lets each raylet pick free worker ports, where the shared default range would collide.
    '--min-worker-port=0',
    '--max-worker-port=0',
  );
  if (resources.memoryBytes !== undefined) args.push(`--memory=${Math.floor(resources.memoryBytes)}`);
  if (resources.objectStoreMemoryBytes !== undefined) args.push(`--object-store-memory=${Math.floor(resources.objectStoreMemoryBytes)}`);
  if (Object.keys(resources.custom).length > 0) args.push(`--resources=${JSON.stringify(resources.custom)}`);
  return args;
}
