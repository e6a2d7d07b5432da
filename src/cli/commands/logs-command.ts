// logs (and the old logs-ray --service head|worker-N): a node's log, its tail, or followed live.
import { Command } from 'commander';
import { RayfleetError } from '../../errors.js';
import { headName, workerName } from '../../providers/node-names.js';
import { DEFAULT_GROUP } from '../../spec/worker-groups.js';
import { parseWholeNumber } from '../option-parsers.js';
import { openFleet, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { interruptSignal } from '../interruption.js';
import { printLine } from '../output.js';

interface LogsOptions extends CommonOptions {
  follow?: boolean;
  tail?: number;
}

interface LogsRayOptions extends LogsOptions {
  service: string;
}

async function printLogs(options: CommonOptions, node: (cluster: string) => string, follow: boolean, tail: number | undefined): Promise<void> {
  const fleet = await openFleet(options, {}, false);
  await withFleet(fleet, async () => {
    for await (const line of fleet.logs(node(fleet.name), { follow, tail, signal: interruptSignal })) printLine(line);
  });
}

export function logsCommand(): Command {
  const command = new Command('logs')
    .description("a node's log")
    .argument('<node>', 'the node, e.g. ray-head or ray-worker-1')
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('--tail <n>', 'only the last N lines', parseWholeNumber);
  withCommonOptions(command).action(async (node: string, options: LogsOptions) => {
    await printLogs(options, () => node, options.follow === true, options.tail);
  });
  return command;
}

/** The old toolkit's service names: `head` and `worker-N`. */
export function nodeOfService(service: string, cluster: string): string {
  if (service === 'head') return headName(cluster);
  const match = /^worker-(\d+)$/.exec(service);
  if (match?.[1] === undefined) throw new RayfleetError('USAGE', `--service takes head or worker-N, not "${service}"`);
  return workerName(cluster, DEFAULT_GROUP, Number(match[1]));
}

export function logsRayCommand(): Command {
  const command = new Command('logs-ray')
    .description("the old toolkit's logs command: a node's log by service name")
    .requiredOption('--service <service>', 'head or worker-N')
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('--tail <n>', 'only the last N lines', parseWholeNumber);
  withCommonOptions(command).action(async (options: LogsRayOptions) => {
    await printLogs(options, (cluster) => nodeOfService(options.service, cluster), options.follow === true, options.tail);
  });
  return command;
}
