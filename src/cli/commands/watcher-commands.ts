// watch, watcher start|stop|status|logs, and the old start-watcher, stop-watcher, watcher-status.
import { Command } from 'commander';
import { RayfleetError } from '../../errors.js';
import { Fleet } from '../../fleet/fleet.js';
import { followFile } from '../../fs/follow-file.js';
import { summarizeEvent } from '../../journal/event.js';
import { createLogger } from '../../log/logger.js';
import { startMetricsServer } from '../../server/metrics-server.js';
import type { LoadedSpec } from '../../spec/load-spec.js';
import type { SpecOverrides } from '../../spec/overrides.js';
import type { WatcherSpec } from '../../spec/schema.js';
import { formatDuration } from '../../spec/durations.js';
import { describeShape } from '../../watcher/resource-shapes.js';
import { Watcher } from '../../watcher/watcher.js';
import { WatcherMetrics } from '../../watcher/watcher-metrics.js';
import { runningWatcherPid, startWatcherService, stopWatcherService } from '../../watcher/watcher-service.js';
import { readWatcherStatus, watcherPaths } from '../../watcher/watcher-status.js';
import { formatTable } from '../format-table.js';
import { parsePositiveWholeNumber, parseWholeNumber } from '../option-parsers.js';
import { loadCommandSpec, openFleet, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { interruptSignal } from '../interruption.js';
import { printJson, printLine } from '../output.js';

export interface WatchOptions extends CommonOptions {
  checkInterval?: string;
  pendingThreshold?: number;
  maxWorkers?: number;
  cooldown?: string;
  metricsPort?: number;
}

interface StatusOptions extends CommonOptions {
  json?: boolean;
}

interface LogsOptions extends CommonOptions {
  follow?: boolean;
  tail?: number;
}

function addWatchOptions(command: Command): Command {
  return command
    .option('--check-interval <duration>', 'time between two looks at the cluster (seconds, or 500ms, 5s …)')
    .option('--pending-threshold <n>', 'no scale-up while at most this many requests wait', parseWholeNumber)
    .option('--max-workers <n>', 'workers of all groups together, at most', parseWholeNumber)
    .option('--cooldown <duration>', 'no new scale-up within this long of the last one')
    .option('--metrics-port <port>', 'serve Prometheus metrics on this port (127.0.0.1)', parsePositiveWholeNumber);
}

function overridesOf(options: WatchOptions): SpecOverrides {
  return { checkInterval: options.checkInterval, pendingThreshold: options.pendingThreshold, maxWorkers: options.maxWorkers, cooldown: options.cooldown };
}

/** The same options again, for the background `watch` process. */
function forwardedArgs(options: WatchOptions, cluster: string): string[] {
  const args = ['-c', cluster];
  if (options.config !== undefined) args.push('--config', options.config);
  if (options.checkInterval !== undefined) args.push('--check-interval', options.checkInterval);
  if (options.pendingThreshold !== undefined) args.push('--pending-threshold', String(options.pendingThreshold));
  if (options.maxWorkers !== undefined) args.push('--max-workers', String(options.maxWorkers));
  if (options.cooldown !== undefined) args.push('--cooldown', options.cooldown);
  if (options.metricsPort !== undefined) args.push('--metrics-port', String(options.metricsPort));
  return args;
}

/** Watcher settings spec keys and their resolved fields. */
const WATCHER_FIELDS = [
  ['interval', 'intervalMs'],
  ['pendingThreshold', 'pendingThreshold'],
  ['cooldown', 'cooldownMs'],
  ['idleTimeout', 'idleTimeoutMs'],
  ['maxWorkers', 'maxWorkers'],
  ['headAddress', 'headAddress'],
  ['dashboardMetricApi', 'dashboardMetricApi'],
] as const;

/**
 * The cluster's own watcher settings (saved by `up`), except what this invocation's flags and environment set:
 * inside a CML head there is no rayfleet.yaml, and the saved spec is the truth.
 */
function watcherSettings(saved: WatcherSpec, loaded: LoadedSpec): WatcherSpec {
  const settings: WatcherSpec = { ...saved };
  for (const [key, field] of WATCHER_FIELDS) {
    if (loaded.origins.has(`watcher.${key}`)) Object.assign(settings, { [field]: loaded.spec.watcher[field] });
  }
  return settings;
}

async function runForeground(options: WatchOptions): Promise<void> {
  const loaded = await loadCommandSpec(options, overridesOf(options));
  const logger = createLogger(process.env.RAYFLEET_LOG_LEVEL ?? 'info');
  const fleet = await Fleet.open({ spec: loaded.spec, logger });
  if (!(await fleet.exists())) throw new RayfleetError('CLUSTER_NOT_FOUND', `cluster ${fleet.name} is not up`, { details: `Start it with \`rayfleet up -c ${fleet.name}\`.` });
  const settings = watcherSettings(fleet.spec.watcher, loaded);
  const metrics = new WatcherMetrics();
  const server = options.metricsPort === undefined ? undefined : await startMetricsServer(metrics.registry, options.metricsPort);
  try {
    logger.info({ cluster: fleet.name, settings, metricsPort: server?.port }, 'watcher starting');
    await new Watcher({ fleet, settings, logger, metrics }).run(interruptSignal);
  } finally {
    await server?.close();
    fleet.close();
  }
}

/** Starts the background watcher of a cluster that is up; used by `watcher start` and by `up`. */
export async function startBackgroundWatcher(fleet: Fleet, options: WatchOptions): Promise<number> {
  return startWatcherService(fleet.paths.root, forwardedArgs(options, fleet.name));
}

async function startBackground(options: WatchOptions): Promise<void> {
  const fleet = await openFleet(options, overridesOf(options), false);
  await withFleet(fleet, async () => {
    if (!(await fleet.exists())) throw new RayfleetError('CLUSTER_NOT_FOUND', `cluster ${fleet.name} is not up`);
    const pid = await startBackgroundWatcher(fleet, options);
    printLine(`watcher of ${fleet.name} started (pid ${pid}), log: ${watcherPaths(fleet.paths.root).log}`);
  });
}

async function stopBackground(options: CommonOptions): Promise<void> {
  const fleet = await openFleet(options, {}, false);
  await withFleet(fleet, async () => {
    printLine((await stopWatcherService(fleet.paths.root)) ? `watcher of ${fleet.name} stopped` : `no watcher of ${fleet.name} was running`);
  });
}

async function showStatus(options: StatusOptions): Promise<void> {
  const fleet = await openFleet(options, {}, false);
  await withFleet(fleet, async () => {
    const pid = await runningWatcherPid(fleet.paths.root);
    const status = await readWatcherStatus(fleet.paths.root);
    const { events } = await fleet.events({ last: 20 });
    if (options.json === true) {
      printJson({ cluster: fleet.name, running: pid !== undefined, pid, status: status ?? null, events });
      return;
    }
    printLine(pid === undefined ? `watcher of ${fleet.name}: not running` : `watcher of ${fleet.name}: running (pid ${pid})`);
    if (status !== undefined) {
      printLine(`demand source: ${status.source}; last tick ${status.lastTickAt} (${formatDuration(status.tickSeconds * 1000)})`);
      for (const problem of status.problems) printLine(`problem: ${problem}`);
      const shapes = status.demand.shapes.map((entry) => `${entry.count}×${describeShape(entry.shape)}`).join(', ') || 'none';
      printLine(`demand: ${shapes}; placement groups: ${status.demand.gangs.length}; request_resources bundles: ${status.demand.constraints.length}`);
      printLine(
        formatTable(
          ['GROUP', 'MIN', 'MAX', 'RUNNING', 'LAUNCHING', 'DRAINING', 'BACK-OFF UNTIL'],
          status.groups.map((group) => [group.name, String(group.min), String(group.max), String(group.registered), String(group.launching), String(group.draining), group.backoffUntil ?? '-']),
        ),
      );
      if (status.launching.length > 0) printLine(`launches in flight: ${status.launching.join(', ')}`);
      if (status.infeasible.length > 0) printLine(`infeasible: ${[...new Set(status.infeasible.map(describeShape))].join(', ')}`);
      for (const reason of status.withheld) printLine(`withheld: ${reason}`);
    }
    printLine('\nlast events:');
    for (const event of events) printLine(`${event.time}  ${summarizeEvent(event)}`);
  });
}

async function showLogs(options: LogsOptions): Promise<void> {
  const fleet = await openFleet(options, {}, false);
  try {
    for await (const line of followFile(watcherPaths(fleet.paths.root).log, { follow: options.follow, tail: options.tail, signal: interruptSignal })) printLine(line);
  } finally {
    fleet.close();
  }
}

export function watchCommand(): Command {
  const command = new Command('watch').description('run the watcher (autoscaler) in the foreground until interrupted');
  withCommonOptions(addWatchOptions(command)).action(runForeground);
  return command;
}

export function watcherCommand(): Command {
  const watcher = new Command('watcher').description("the watcher (autoscaler) as a background service of the cluster");
  withCommonOptions(addWatchOptions(watcher.command('start').description('start the watcher in the background'))).action(startBackground);
  withCommonOptions(watcher.command('stop').description('stop the background watcher')).action(stopBackground);
  withCommonOptions(watcher.command('status').description('running or not, demand, nodes per group, launches, back-offs, last events').option('--json', 'print JSON')).action(showStatus);
  withCommonOptions(
    watcher
      .command('logs')
      .description("the watcher's log")
      .option('-f, --follow', 'keep printing new lines until interrupted')
      .option('--tail <n>', 'only the last N lines', parseWholeNumber),
  ).action(showLogs);
  return watcher;
}

/** The old toolkit's names for the same service. */
export function oldWatcherCommands(): Command[] {
  const start = withCommonOptions(addWatchOptions(new Command('start-watcher').description('old name of `watcher start`'))).action(startBackground);
  const stop = withCommonOptions(new Command('stop-watcher').description('old name of `watcher stop`')).action(stopBackground);
  const status = withCommonOptions(new Command('watcher-status').description('old name of `watcher status`').option('--json', 'print JSON')).action(showStatus);
  return [start, stop, status];
}
