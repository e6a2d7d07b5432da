// `rayfleet simulate`'s question: the spec's own setting and each --compare, run on the same workload and seed, side by side.
import { parse as parseYaml } from 'yaml';
import { RayfleetError, messageOf } from '../errors.js';
import { clusterSpecSchema, type ClusterSpec } from '../spec/schema.js';
import { applySettingChange, type SettingChange } from './setting-change.js';
import { runSimulation } from './simulate.js';
import { reportOf, type SimulationReport } from './simulation-report.js';
import type { Workload } from './workload.js';

export interface WhatIfInput {
  workload: Workload;
  /** What the report calls the workload: its file, or the cluster it was replayed from. */
  workloadSource: string;
  /**
   * The cluster spec's fields (rayfleet.yaml, parsed); the workload's own `spec:`, else the defaults, when undefined.
   * Its `simulation:` section goes over the workload's, field by field, and `--set simulation.…` over both.
   */
  spec?: Record<string, unknown> | undefined;
  /** `--set`: changes to the base setting. */
  set?: SettingChange[];
  /** `--compare`: each entry one more setting, the base with these changes. */
  compare?: SettingChange[][];
  seed?: number;
  signal?: AbortSignal;
}

export interface WhatIfSetting {
  /** `spec` for the base, else the changes: `watcher.idleTimeout=30s`. */
  label: string;
  changes: string[];
  spec: ClusterSpec;
  report: SimulationReport;
}

export interface WhatIfResult {
  workload: string;
  seed: number;
  settings: WhatIfSetting[];
}

export const DEFAULT_SEED = 1;

export async function whatIf(input: WhatIfInput): Promise<WhatIfResult> {
  const seed = input.seed ?? DEFAULT_SEED;
  const base = input.set ?? [];
  const variants: Array<{ label: string; changes: SettingChange[] }> = [
    { label: base.length === 0 ? 'spec' : base.map((change) => change.text).join(' '), changes: base },
    ...(input.compare ?? []).map((changes) => ({ label: changes.map((change) => change.text).join(' '), changes: [...base, ...changes] })),
  ];
  const { workload } = input;
  // Every setting is checked before any runs: a typo in the last --compare fails at once.
  const prepared = variants.map((variant) => {
    const specRaw = structuredClone(input.spec ?? workload.spec ?? {});
    const declared = specRaw.simulation;
    if (declared === undefined || isRecord(declared)) specRaw.simulation = { ...workload.simulationFields, ...declared };
    for (const change of variant.changes) applySettingChange(specRaw, change);
    return { variant, spec: validSpec(specRaw, variant.label) };
  });
  const runs = [];
  for (const { variant, spec } of prepared) {
    runs.push({ variant, spec, run: await runSimulation({ spec, workload, seed, ...(input.signal === undefined ? {} : { signal: input.signal }) }) });
  }
  // Every setting is counted to the same instant: one that settled sooner keeps its standing nodes until then.
  const untilMs = Math.max(...runs.map(({ run }) => run.endMs - run.startMs));
  return {
    workload: input.workloadSource,
    seed,
    settings: runs.map(({ variant, spec, run }) => ({ label: variant.label, changes: variant.changes.map((change) => change.text), spec, report: reportOf(run, run.startMs + untilMs) })),
  };
}

function validSpec(raw: Record<string, unknown>, label: string): ClusterSpec {
  const parsed = clusterSpecSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.slice(0, 20).map((issue) => `${issue.path.join('.') || '(spec)'}: ${issue.message}`);
  throw new RayfleetError('SPEC_INVALID', `the spec of setting "${label}" is not valid`, { details: problems.join('\n') });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A spec file's fields, for `WhatIfInput.spec`. */
export function parseSpecFields(text: string, source: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (error) {
    throw new RayfleetError('SPEC_INVALID', `${source}: not YAML: ${messageOf(error)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RayfleetError('SPEC_INVALID', `${source}: the spec must be a mapping of fields`);
  return raw as Record<string, unknown>;
}
