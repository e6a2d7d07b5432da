// watch, watcher start|stop|status|logs, and the old start-watcher, stop-watcher, watcher-status.
import { Command, Option } from 'commander';
import { RayfleetError } from '../../errors.js';
import { Fleet } from '../../fleet/fleet.js';
import { formatChanges, type LiveSpecPatch } from '../../fleet/spec-changes.js';
import { STATUS_REFRESH_MS } from '../../fleet/watcher-cluster-of.js';
import { followFile } from '../../fs/follow-file.js';
import { summarizeEvent } from '../../journal/event.js';
import { createLogger } from '../../log/logger.js';
import { startMetricsServer } from '../../server/metrics-server.js';
import type { LoadedSpec } from '../../spec/load-spec.js';
import { SPEC_FIELDS, resolvedKeyOf } from '../../spec/field-table.js';
import { overridesIn } from '../../spec/overrides.js';
import type { WatcherSpec } from '../../spec/schema.js';
import { formatDuration } from '../../spec/durations.js';
import { describeShape } from '../../watcher/resource-shapes.js';
import { WatcherMetrics } from '../../watcher/watcher-metrics.js';
import { formatTable } from '../format-table.js';
import { parsePositiveWholeNumber, parseWholeNumber } from '../option-parsers.js';
import { loadCommandSpec, openFleet, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { interruptSignal } from '../interruption.js';
import { printJson, printLine } from '../output.js';
import { readEnv } from '../../environment.js';

export interface WatchOptions extends CommonOptions {
  /** The cluster's state directory, as the fleet that starts a background watcher tells it. */
  stateDir?: string;
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
    .option('--metrics-port <port>', 'serve Prometheus metrics on this port (127.0.0.1)', parsePositiveWholeNumber)
    .addOption(new Option('--state-dir <dir>', "the cluster's state directory (set by the fleet that starts it)").hideHelp());
}

/**
 * What this invocation's flags and WATCHER_* variables set, as a live change of the running cluster's saved spec: the
 * one rule for every command that brings settings (inside a CML head there is no rayfleet.yaml, and the saved spec is the truth).
 */
function livePatchOf(loaded: LoadedSpec): LiveSpecPatch {
  const watcher: Record<string, unknown> = {};
  for (const field of SPEC_FIELDS) {
    if (!field.path.startsWith('watcher.') || !loaded.origins.has(field.path)) continue;
    const key = resolvedKeyOf(field) as keyof WatcherSpec;
    watcher[key] = loaded.spec.watcher[key];
  }
  return { watcher: watcher as LiveSpecPatch['watcher'] };
}

/** The running cluster with this invocation's watcher settings applied; `watcher start` refuses first if one runs. */
async function openWatchedFleet(options: WatchOptions, refuseRunning = false): Promise<Fleet> {
  const loaded = await loadCommandSpec(options, overridesIn(options));
  const fleet = await Fleet.open({ spec: loaded.spec, logger: createLogger(readEnv('RAYFLEET_LOG_LEVEL') ?? 'info'), stateDir: options.stateDir });
  if (!(await fleet.exists())) throw new RayfleetError('CLUSTER_NOT_FOUND', `cluster ${fleet.name} is not up`, { details: `Start it with \`rayfleet up -c ${fleet.name}\`.` });
  const running = refuseRunning ? await fleet.watcher.pid() : undefined;
  if (running !== undefined) {
    throw new RayfleetError('LOCK_HELD', `a watcher for cluster ${fleet.name} already runs (pid ${running})`, {
      details: `Stop it first with \`rayfleet watcher stop -c ${fleet.name}\`; a running watcher follows \`rayfleet up\`'s live changes.`,
    });
  }
  const changes = await fleet.applyLiveChanges(livePatchOf(loaded), 'cli');
  if (changes.length > 0) process.stderr.write(`applied to the running cluster:\n${formatChanges(changes)}\n`);
  return fleet;
}

async function runForeground(options: WatchOptions): Promise<void> {
  const fleet = await openWatchedFleet(options);
  const metrics = new WatcherMetrics();
  const server = options.metricsPort === undefined ? undefined : await startMetricsServer(metrics.registry, options.metricsPort);
  try {
    await fleet.watcher.run(interruptSignal, { metrics });
  } finally {
    await server?.close();
    fleet.close();
  }
}

async function startBackground(options: WatchOptions): Promise<void> {
  const fleet = await openWatchedFleet(options, true);
  await withFleet(fleet, async () => {
    const place = await fleet.watcher.start({ metricsPort: options.metricsPort });
    if (place.runs === 'here') printLine(`watcher of ${fleet.name} runs (pid ${place.pid}), log: ${fleet.watcher.logPath}`);
    else printLine(`the watcher of ${fleet.name} runs inside its head application`);
  });
}

async function stopBackground(options: CommonOptions): Promise<void> {
  const fleet = await openFleet(options, {}, false);
  await withFleet(fleet, async () => {
    printLine((await fleet.watcher.stop()) ? `watcher of ${fleet.name} stopped` : `no watcher of ${fleet.name} was running`);
  });
}

async function showStatus(options: StatusOptions): Promise<void> {
  const fleet = await openFleet(options, {}, false);
  await withFleet(fleet, async () => {
    const pid = await fleet.watcher.pid();
    const status = await fleet.watcher.status();
    const { events } = await fleet.events({ last: 20 });
    if (options.json === true) {
      printJson({ cluster: fleet.name, running: pid !== undefined, pid, status: status ?? null, events });
      return;
    }
    printLine(pid === undefined ? `watcher of ${fleet.name}: not running` : `watcher of ${fleet.name}: running (pid ${pid})`);
    if (status !== undefined) {
      if (status.paused) printLine('paused: it observes and journals what it would do, and does nothing');
      // The status is rewritten when it changes, else every STATUS_REFRESH_MS: on an idle cluster its tick is not the latest.
      printLine(`demand source: ${status.source}; as of the tick at ${status.lastTickAt} (${formatDuration(status.tickSeconds * 1000)}; rewritten when it changes, else every ${formatDuration(STATUS_REFRESH_MS)})`);
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
    for await (const line of followFile(fleet.watcher.logPath, { follow: options.follow, tail: options.tail, signal: interruptSignal })) printLine(line);
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
