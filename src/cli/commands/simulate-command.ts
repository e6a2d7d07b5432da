// simulate: the real watcher in virtual time on a workload, against the spec and each --compare, printed side by side.
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import { RayfleetError, messageOf } from '../../errors.js';
import { loadSpec } from '../../spec/load-spec.js';
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
  set: SettingChange[];
  compare: SettingChange[][];
  seed?: number;
  json?: boolean;
  schema?: boolean;
}

export function simulateCommand(): Command {
  return new Command('simulate')
    .description('run the watcher in virtual time on a workload and report node-hours, waits, launches and drains; --compare runs other settings beside it')
    .argument('[workload]', 'a YAML or JSONL file of arrivals ({at, kind, shape, count, duration, strategy?, bundles?}); see --schema')
    .option('--spec <file>', "the cluster spec to simulate (rayfleet.yaml); default: the workload's own spec:, else the defaults")
    .option('--set <key=value>', 'change the simulated setting, repeatable: watcher.idleTimeout=30s, workerGroups.gpu.max=4, simulation.launchLatency=60s', collectChange, [])
    .option('--compare <key=value>', "run one more setting beside the spec's: the spec with this change (several, space-separated, make one setting); repeatable", collectSetting, [])
    .option('--seed <n>', `seeds latencies, faults and spread arrivals (default ${DEFAULT_SEED})`, parseWholeNumber)
    .option('--json', 'print JSON')
    .option('--schema', "print the workload file's JSON Schema")
    .action(async (workloadPath: string | undefined, options: SimulateOptions) => {
      if (options.schema === true) {
        printJson(workloadJsonSchema());
        return;
      }
      if (workloadPath === undefined) throw new RayfleetError('USAGE', 'name a workload file: rayfleet simulate WORKLOAD (examples/workloads/ has three to start from)');
      const workload = parseWorkload(await readText(workloadPath, 'the workload'), workloadPath);
      let spec: Record<string, unknown> | undefined;
      if (options.spec !== undefined) {
        // Checked as every other command checks it, with line numbers; then read as fields, for --set and --compare to change.
        const loaded = await loadSpec({ configPath: options.spec });
        spec = parseSpecFields(await readText(loaded.path ?? options.spec, 'the spec'), options.spec);
      }
      const result = await whatIf({ workload, workloadSource: workloadPath, spec, set: options.set, compare: options.compare, seed: options.seed ?? DEFAULT_SEED, signal: interruptSignal });
      if (options.json === true) printJson(result);
      else printLine(formatWhatIf(result));
    });
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
