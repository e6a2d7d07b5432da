// simulate: the real watcher in virtual time on a workload, against the spec and each --compare, printed side by side.
import { readFile, writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import { RayfleetError, messageOf } from '../../errors.js';
import { loadSpec } from '../../spec/load-spec.js';
import { parseDuration } from '../../spec/durations.js';
import { describeReplay, readRecordedDemand, replayWorkloadText, type RecordedDemand } from '../../simulate/recorded-demand.js';
import { specFieldsOf } from '../../simulate/spec-fields.js';
import { simulationDefaultsByBackend } from '../../simulate/simulation-settings.js';
import type { LatencyDistribution } from '../../spec/simulation.js';
import { parseSettingChange, parseSettingChanges, type SettingChange } from '../../simulate/setting-change.js';
import type { Percentiles, SimulationReport } from '../../simulate/simulation-report.js';
import { DEFAULT_SEED, parseSpecFields, whatIf, type WhatIfResult } from '../../simulate/what-if.js';
import { parseWorkload, workloadJsonSchema } from '../../simulate/workload.js';
import { formatTable } from '../format-table.js';
import { interruptSignal } from '../interruption.js';
import { printJson, printLine } from '../output.js';
import { parseWholeNumber } from '../option-parsers.js';

interface SimulateOptions {
  spec?: string;
  fromJournal?: string;
  since?: string;
  taskDuration?: string;
  emitWorkload?: string;
  set: SettingChange[];
  compare: SettingChange[][];
  seed?: number;
  json?: boolean;
  schema?: boolean;
}

export function simulateCommand(): Command {
  return new Command('simulate')
    .description('run the watcher in virtual time on a workload and report node-hours, waits, launches and drains; --compare runs other settings beside it')
    .argument('[workload]', 'a YAML or JSONL file of arrivals ({at, kind, shape, count, duration, strategy?, bundles?}); see --schema. Not with --from-journal')
    .option('--spec <file>', "the cluster spec to simulate (rayfleet.yaml); default: the workload's own spec: (with --from-journal, the cluster's saved spec), else the defaults")
    .option('--from-journal <cluster>', "replay the demand a cluster's watcher recorded (its name, or its state directory); prints what it replayed and what that approximates")
    .option('--since <duration>', 'with --from-journal: only what was recorded in the last DURATION, e.g. 6h')
    .option('--task-duration <duration>', 'with --from-journal: how long each replayed request runs once placed (default: as long as it was seen waiting; the history records no more)')
    .option('--emit-workload <file>', 'with --from-journal: write the replayed workload (with the spec) to FILE to edit and run again, and simulate nothing')
    .option('--set <key=value>', 'change the simulated setting, repeatable: watcher.idleTimeout=30s, workerGroups.gpu.max=4, simulation.launchLatency=60s', collectChange, [])
    .option('--compare <key=value>', "run one more setting beside the spec's: the spec with this change (several, space-separated, make one setting); repeatable", collectSetting, [])
    .option('--seed <n>', `seeds latencies, faults and spread arrivals (default ${DEFAULT_SEED})`, parseWholeNumber)
    .option('--json', 'print JSON')
    .option('--schema', "print the workload file's JSON Schema")
    .addHelpText('after', simulationHelp)
    .action(async (workloadPath: string | undefined, options: SimulateOptions) => {
      if (options.schema === true) {
        printJson(workloadJsonSchema());
        return;
      }
      if (options.fromJournal === undefined) {
        const journalOnly = (['since', 'taskDuration', 'emitWorkload'] as const).find((key) => options[key] !== undefined);
        if (journalOnly !== undefined) throw new RayfleetError('USAGE', `--${journalOnly.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)} goes with --from-journal CLUSTER`);
      } else if (workloadPath !== undefined) {
        throw new RayfleetError('USAGE', `give a workload file or --from-journal ${options.fromJournal}, not both`);
      }
      let spec: Record<string, unknown> | undefined;
      if (options.spec !== undefined) {
        // Checked as every other command checks it, with line numbers; then read as fields, for --set and --compare to change.
        const loaded = await loadSpec({ configPath: options.spec });
        spec = parseSpecFields(await readText(loaded.path ?? options.spec, 'the spec'), options.spec);
      }
      const simulateWith = { spec, set: options.set, compare: options.compare, seed: options.seed ?? DEFAULT_SEED, signal: interruptSignal };
      if (options.fromJournal !== undefined) {
        const replay = await readRecordedDemand(options.fromJournal, {
          ...(options.since === undefined ? {} : { sinceMs: Date.now() - durationOption('--since', options.since) }),
          ...(options.taskDuration === undefined ? {} : { taskDurationMs: durationOption('--task-duration', options.taskDuration) }),
        });
        const replaySpec = spec ?? specOfReplay(replay);
        if (options.emitWorkload !== undefined) {
          await writeFile(options.emitWorkload, replayWorkloadText(replay, replaySpec));
          printLine(`wrote ${options.emitWorkload}: ${replay.workload.arrivals.length} arrival(s) replayed from ${replay.summary.cluster}; run it with rayfleet simulate ${options.emitWorkload}`);
          return;
        }
        const result = await whatIf({ ...simulateWith, spec: replaySpec, workload: replay.workload, workloadSource: `the journal of ${replay.summary.cluster}` });
        if (options.json === true) printJson({ ...result, replay: replay.summary });
        else printLine([...describeReplay(replay.summary), formatWhatIf(result)].join('\n'));
        return;
      }
      if (workloadPath === undefined) throw new RayfleetError('USAGE', 'name a workload file: rayfleet simulate WORKLOAD (examples/workloads/ has three to start from), or --from-journal CLUSTER');
      const workload = parseWorkload(await readText(workloadPath, 'the workload'), workloadPath);
      const result = await whatIf({ ...simulateWith, workload, workloadSource: workloadPath });
      if (options.json === true) printJson(result);
      else printLine(formatWhatIf(result));
    });
}

/** The spec's `simulation:` section, with the defaults read from where the simulator takes them. */
function simulationHelp(): string {
  const seconds = (ms: number): string => `${ms / 1000}s`;
  const latency = (distribution: LatencyDistribution): string =>
    distribution.kind === 'lognormal' ? `log-normal, median ${seconds(distribution.medianMs)}, p95 ${seconds(distribution.p95Ms)}` : JSON.stringify(distribution);
  const byProvider = simulationDefaultsByBackend().flatMap(({ type, defaults }) => [
    `${' '.repeat(20)}${type.padEnd(7)} launch ${latency(defaults.launch)}; stop ${latency(defaults.terminate)}`,
    `${' '.repeat(28)}${defaults.source}`,
  ]);
  return [
    '',
    "The machines: the spec's simulation: section (rayfleet.yaml, --spec, or the workload's spec:), over the workload's own",
    'simulation: section field by field, and --set simulation.KEY=VALUE over both:',
    '  launchLatency     from a launch to the node alive in Ray: 60s | {median: 1m, p95: 3m} | {min: 20s, max: 40s}',
    '                    | {mean: 30s, sd: 5s, min: 10s} | {samples: [15.1s, 16.8s, 24s]}. Defaults by provider:',
    ...byProvider,
    "                    --from-journal uses the cluster's own launches, as its journal measured them.",
    '  terminateLatency  from terminate to the node gone, written the same way (defaults above)',
    '  launchFailureRate the chance in [0, 1] that a launch fails (default 0); the watcher backs off as it would',
    '  deathRate, deathAfter  the chance a running node dies by itself, and when (default 0)',
    '  quota             the most nodes a group may hold, e.g. {gpu: 2}: launches past it are refused (default none)',
    '  prices            per node-hour by group (head for the head), e.g. {head: 0.1, gpu: 3.06}: the table adds cost',
    '  horizon           how long to simulate after the first arrival (default: until the work is done and scaled down)',
    '',
    '--from-journal CLUSTER replays the demand its watcher recorded (history.jsonl in its state directory): each request',
    'a task arriving when it was first seen waiting and lasting as long as it was seen (--task-duration to say how long',
    'work ran; it is not recorded); work placed between two ticks is not seen. The first lines of the output say what',
    'was replayed and what it approximates.',
  ].join('\n');
}

/** The spec the cluster ran with, as it saved it; `down` removes it, and then only --spec can say. */
function specOfReplay(replay: RecordedDemand): Record<string, unknown> {
  if (replay.savedSpec !== undefined) return specFieldsOf(replay.savedSpec);
  throw new RayfleetError('SPEC_NOT_FOUND', `cluster ${replay.summary.cluster} is down, and its saved spec went with it: give the spec it ran with, --spec FILE`, {
    details: `Its history and journal are still in ${replay.summary.stateDir}.`,
  });
}

function durationOption(flag: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new RayfleetError('USAGE', `${flag}: ${messageOf(error)}`);
  }
}

function collectChange(text: string, previous: SettingChange[]): SettingChange[] {
  return [...previous, usage(() => parseSettingChange(text))];
}

function collectSetting(text: string, previous: SettingChange[][]): SettingChange[][] {
  return [...previous, usage(() => parseSettingChanges(text))];
}

function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new InvalidArgumentError(messageOf(error));
  }
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new RayfleetError('SPEC_NOT_FOUND', `cannot read ${what} ${file}: ${messageOf(error)}`, { cause: error });
  }
}

/** The settings side by side, one column each, with each compared setting's change from the first. */
function formatWhatIf(result: WhatIfResult): string {
  const [base, ...others] = result.settings;
  if (base === undefined) return '';
  const groups = [...new Set(result.settings.flatMap((setting) => Object.keys(setting.report.nodeHours)))].sort((a, b) => (a === 'head' ? -1 : b === 'head' ? 1 : a.localeCompare(b)));
  const rows: Array<{ name: string; value: (report: SimulationReport) => number | undefined; digits: number }> = [
    ...groups.map((group) => ({ name: `node-hours ${group}`, value: (report: SimulationReport) => report.nodeHours[group] ?? 0, digits: 2 })),
    { name: 'node-hours total', value: (report) => report.totalNodeHours, digits: 2 },
    ...(base.report.totalCost === undefined ? [] : [{ name: 'cost total', value: (report: SimulationReport) => report.totalCost, digits: 2 }]),
    ...percentileRows('demand→capacity s', (report) => report.demandToCapacityS),
    ...percentileRows('request wait s', (report) => report.requestWaitS, false),
    { name: 'nodes launched', value: (report) => report.nodesLaunched, digits: 0 },
    { name: 'nodes lower bound', value: (report) => report.nodesLowerBound, digits: 0 },
    { name: 'launch failures', value: (report) => report.launchFailures, digits: 0 },
    { name: 'drains', value: (report) => report.drains, digits: 0 },
    { name: 'drains rejected', value: (report) => report.drainsRejected, digits: 0 },
    { name: 'flaps', value: (report) => report.flaps, digits: 0 },
    { name: 'requests unplaced', value: (report) => report.unplaced, digits: 0 },
    { name: 'requests unfinished', value: (report) => report.unfinished, digits: 0 },
    { name: 'work done at s', value: (report) => report.workDoneS, digits: 0 },
    { name: 'withheld ticks', value: (report) => Object.values(report.withheld).reduce((total, count) => total + count, 0), digits: 0 },
  ];
  const cell = (value: number | undefined, digits: number): string => (value === undefined ? '-' : value.toFixed(digits));
  const delta = (value: number | undefined, from: number | undefined, digits: number): string => {
    if (value === undefined || from === undefined) return '';
    const change = value - from;
    if (Math.abs(change) < 10 ** -digits / 2) return ' (=)';
    const sign = change > 0 ? '+' : '';
    return from === 0 ? ` (${sign}${change.toFixed(digits)})` : ` (${sign}${change.toFixed(digits)}, ${sign}${Math.round((change / Math.abs(from)) * 100)}%)`;
  };
  const table = formatTable(
    ['', ...result.settings.map((setting) => setting.label)],
    rows.map((row) => [row.name, cell(row.value(base.report), row.digits), ...others.map((setting) => cell(row.value(setting.report), row.digits) + delta(row.value(setting.report), row.value(base.report), row.digits))]),
  );
  const notes = result.settings.flatMap((setting) => [
    ...(setting.report.infeasible.length === 0 ? [] : [`${setting.label}: infeasible ${setting.report.infeasible.join(', ')}`]),
    ...Object.entries(setting.report.withheld).map(([cause, count]) => `${setting.label}: withheld (${cause}) ${count}×`),
  ]);
  return [`workload ${result.workload}, seed ${result.seed}, ${Math.round(base.report.durationS / 60)} simulated minutes`, table, ...notes].join('\n');
}

function percentileRows(name: string, of: (report: SimulationReport) => Percentiles, withMax = true) {
  return [
    { name: `${name} p50`, value: (report: SimulationReport) => of(report).p50, digits: 1 },
    { name: `${name} p95`, value: (report: SimulationReport) => of(report).p95, digits: 1 },
    ...(withMax ? [{ name: `${name} max`, value: (report: SimulationReport) => of(report).max, digits: 1 }] : []),
  ];
}
