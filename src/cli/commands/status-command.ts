// status (and the old status-ray): every node as the provider sees it beside Ray's view of it.
import { Command } from 'commander';
import type { ClusterStatus, NodeStatus } from '../../fleet/cluster-status.js';
import { formatDuration } from '../../spec/durations.js';
import type { GroupCount } from '../../watcher/group-counts.js';
import { formatTable } from '../format-table.js';
import { openFleet, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { printJson, printLine } from '../output.js';

interface StatusOptions extends CommonOptions {
  json?: boolean;
}

export function statusCommand(): Command {
  const command = new Command('status').alias('status-ray').description('each node\'s provider state, Ray status, resources and idle time').option('--json', 'print JSON');
  withCommonOptions(command).action(async (options: StatusOptions) => {
    const fleet = await openFleet(options, {}, false);
    await withFleet(fleet, async () => {
      const status = await fleet.status();
      if (options.json === true) printJson(status);
      else printStatus(status);
    });
  });
  return command;
}

function usage(node: NodeStatus, resource: string): string {
  if (node.ray === null || node.ray.status === 'DEAD') return '-';
  const total = node.ray.resources[resource] ?? 0;
  const used = total - (node.ray.available[resource] ?? 0);
  return `${round(used)}/${round(total)}`;
}

function round(value: number): string {
  return String(Math.round(value * 100) / 100);
}

export function printStatus(status: ClusterStatus): void {
  printLine(`cluster ${status.cluster} (${status.provider})  address ${status.address}  dashboard ${status.dashboardUrl}`);
  printLine(`ports: ${describePorts(status.ports)}`);
  if (status.headDown !== undefined) printLine(`Outage: ${status.headDown}`);
  if (status.rayError !== undefined) printLine(`Ray cannot be asked: ${status.rayError}`);
  if (status.providerError !== undefined) printLine(`Not readable now: ${status.providerError}`);
  const rows = status.nodes.map((node) => [
    node.name,
    node.group,
    node.state,
    node.ray?.status ?? '-',
    usage(node, 'CPU'),
    usage(node, 'GPU'),
    node.ray !== null && node.ray.status === 'IDLE' ? formatDuration(node.ray.idleMs) : '-',
  ]);
  printLine(formatTable(['NAME', 'GROUP', 'STATE', 'RAY', 'CPU USED', 'GPU USED', 'IDLE'], rows));
  for (const node of status.unmanaged) printLine(`not managed by rayfleet: Ray node ${node.nodeId} (${node.status})`);
  for (const orphan of status.orphans ?? []) {
    printLine(`orphan: ${orphan.name ?? 'a process'} of this cluster with no record (process group ${orphan.providerId}, pids ${orphan.pids.join(' ')}): the watcher or \`down\` stops it`);
  }
  printLine(`groups: ${status.groups.map(describeGroup).join('; ')}`);
  const { totals } = status;
  const cpus = totals.resources.CPU ?? 0;
  printLine(`total: ${totals.nodes} node(s), ${totals.alive} alive in Ray, CPU ${round(cpus - (totals.available.CPU ?? 0))}/${round(cpus)} used`);
}

/** `worker 2 registered, 1 launching (min 1, max 3)`: the phases with workers in them, and the group's bounds. */
function describeGroup(group: GroupCount): string {
  const phases = (['registered', 'launching', 'draining', 'dead'] as const).filter((phase) => phase === 'registered' || group[phase] > 0);
  return `${group.name} ${phases.map((phase) => `${group[phase]} ${phase}`).join(', ')} (min ${group.min}, max ${group.max})`;
}

/** The head's ports as `up` chose them; a Docker head's are published with its offset added. */
export function describePorts(ports: ClusterStatus['ports']): string {
  const offset = ports.portOffset === 0 ? '' : ` (published +${ports.portOffset})`;
  return `gcs ${ports.gcsPort}, dashboard ${ports.dashboardPort}, client ${ports.clientPort}, serve ${ports.servePort}${offset}`;
}
