// The workload a simulation replays: arrivals of tasks, actors and placement groups in YAML or JSONL, validated, with a JSON Schema.
import { readFile } from 'node:fs/promises';
import { LineCounter, isNode, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { RayfleetError, isRayfleetError, messageOf } from '../errors.js';
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import { parseSize } from '../spec/sizes.js';
import { durationMs, simulationSettingsSchema, type SimulationSettings } from '../spec/simulation.js';
import type { WorkKind, WorkStrategy } from './simulated-ray.js';

export interface Arrival {
  /** After the simulation's start. */
  atMs: number;
  kind: WorkKind;
  name: string | undefined;
  /** What one task or actor needs. */
  shape: ResourceShape | undefined;
  /** A placement group's bundles. */
  bundles: ResourceShape[] | undefined;
  count: number;
  /** How long each holds its resources once placed; Infinity for `forever`. */
  durationMs: number;
  strategy: WorkStrategy | undefined;
  /** The `count` arrivals are spread at random (from the seed) over this window after `at`; all at `at` when 0. */
  overMs: number;
}

export interface Workload {
  name: string | undefined;
  description: string | undefined;
  arrivals: Arrival[];
  /** The file's `simulation:` section; a spec's own section (and `--set simulation.…`) goes over it, field by field. */
  simulation: SimulationSettings;
  /** That section as written, for the field-by-field merge under the spec's. */
  simulationFields: Record<string, unknown>;
  /** A cluster spec (rayfleet.yaml's fields) to simulate when no --spec is given. */
  spec: Record<string, unknown> | undefined;
}

/** Resource amounts; `memory` and `object_store_memory` also as sizes (2GiB). */
const shapeSchema = z
  .record(z.string().min(1), z.union([z.number().min(0), z.string()]))
  .describe('resources by name, as Ray names them: { CPU: 1, GPU: 1, memory: 2GiB, TPU: 4 }')
  .transform((input, context): ResourceShape => {
    const shape: ResourceShape = {};
    for (const [name, amount] of Object.entries(input)) {
      if (typeof amount === 'number') shape[name] = amount;
      else if (name === 'memory' || name === 'object_store_memory') {
        try {
          shape[name] = parseSize(amount);
        } catch (error) {
          context.addIssue({ code: 'custom', message: `${name}: ${isRayfleetError(error) ? error.message : String(error)}`, path: [name] });
        }
      } else context.addIssue({ code: 'custom', message: `${name}: expected a number`, path: [name] });
    }
    return shape;
  });

const TASK_STRATEGIES = ['DEFAULT', 'SPREAD'] as const;
const GROUP_STRATEGIES = ['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD'] as const;

export const arrivalSchema = z
  .strictObject({
    at: durationMs('when it arrives, after the start'),
    kind: z.enum(['task', 'actor', 'placement-group']).describe('a task runs for its duration; an actor or a placement group lives for it'),
    name: z.string().optional().describe('a name for the report'),
    shape: shapeSchema.optional().describe('what one task or actor needs (tasks and actors)'),
    bundles: z.array(shapeSchema).min(1).optional().describe("the placement group's bundles (placement groups)"),
    count: z.number().int().min(1).default(1).describe('how many arrive'),
    duration: z.union([z.literal('forever'), durationMs('how long each holds its resources once placed')]).describe("how long each holds its resources once placed, or 'forever'"),
    strategy: z.enum([...new Set([...TASK_STRATEGIES, ...GROUP_STRATEGIES])]).optional().describe('tasks and actors: DEFAULT | SPREAD; placement groups: PACK (default) | SPREAD | STRICT_PACK | STRICT_SPREAD'),
    over: durationMs('spread the arrivals at random over this window after `at`').optional(),
  })
  .superRefine((input, context) => {
    if (input.kind === 'placement-group') {
      if (input.bundles === undefined) context.addIssue({ code: 'custom', message: 'a placement group needs bundles', path: ['bundles'] });
      if (input.shape !== undefined) context.addIssue({ code: 'custom', message: 'a placement group has bundles, not a shape', path: ['shape'] });
      if (input.strategy !== undefined && !(GROUP_STRATEGIES as readonly string[]).includes(input.strategy)) {
        context.addIssue({ code: 'custom', message: `a placement group's strategy is one of ${GROUP_STRATEGIES.join(', ')}`, path: ['strategy'] });
      }
    } else {
      if (input.shape === undefined) context.addIssue({ code: 'custom', message: `a ${input.kind} needs a shape`, path: ['shape'] });
      if (input.bundles !== undefined) context.addIssue({ code: 'custom', message: `a ${input.kind} has a shape, not bundles`, path: ['bundles'] });
      if (input.strategy !== undefined && !(TASK_STRATEGIES as readonly string[]).includes(input.strategy)) {
        context.addIssue({ code: 'custom', message: `a ${input.kind}'s strategy is one of ${TASK_STRATEGIES.join(', ')}`, path: ['strategy'] });
      }
    }
  })
  .transform(
    (input): Arrival => ({
      atMs: input.at,
      kind: input.kind,
      name: input.name,
      shape: input.shape,
      bundles: input.bundles,
      count: input.count,
      durationMs: input.duration === 'forever' ? Number.POSITIVE_INFINITY : input.duration,
      strategy: input.strategy,
      overMs: input.over ?? 0,
    }),
  );

export const workloadSchema = z
  .strictObject({
    name: z.string().optional(),
    description: z.string().optional(),
    simulation: simulationSettingsSchema
      .prefault({})
      .describe("how the simulated machines behave (latencies, failures, quotas, prices), as the spec's `simulation:` section, which goes over this one field by field"),
    spec: z.record(z.string(), z.unknown()).optional().describe('a cluster spec (the fields of rayfleet.yaml) used when no --spec is given'),
    arrivals: z.array(arrivalSchema).min(1).describe('what arrives, and when'),
  })
  .transform(
    (input): Omit<Workload, 'simulationFields'> => ({
      name: input.name,
      description: input.description,
      arrivals: [...input.arrivals].sort((a, b) => a.atMs - b.atMs),
      simulation: input.simulation,
      spec: input.spec,
    }),
  );

/** The JSON Schema of a workload file (the input side), for editors and `rayfleet simulate --schema`. */
export function workloadJsonSchema(): object {
  return z.toJSONSchema(workloadSchema, { io: 'input', target: 'draft-7' });
}

/**
 * A workload from its text: YAML (a mapping with `arrivals:`, or a bare list of arrivals) or JSONL (one arrival a line).
 * `edit` changes the raw document before it is validated (`--set simulation.…`).
 */
export function parseWorkload(text: string, source: string, edit?: (raw: Record<string, unknown>) => void): Workload {
  const jsonl = /\.jsonl$/i.test(source) || looksLikeJsonLines(text);
  let raw: unknown;
  /** The line of each arrival of a JSONL file, blank lines skipped. */
  const lineOf: number[] = [];
  const lineCounter = new LineCounter();
  let document: Document | undefined;
  let bareList = false;
  if (jsonl) {
    const arrivals: unknown[] = [];
    for (const [index, line] of text.split('\n').entries()) {
      if (line.trim() === '') continue;
      lineOf.push(index + 1);
      try {
        arrivals.push(JSON.parse(line));
      } catch (error) {
        throw new RayfleetError('SPEC_INVALID', `${source}:${index + 1}: not a JSON object: ${messageOf(error)}`);
      }
    }
    raw = { arrivals };
  } else {
    document = parseDocument(text, { lineCounter });
    const [first] = document.errors;
    if (first !== undefined) throw new RayfleetError('SPEC_INVALID', `${source}: not YAML: ${first.message}`);
    raw = document.toJS() ?? {};
    bareList = Array.isArray(raw);
    if (bareList) raw = { arrivals: raw };
  }
  if (edit !== undefined && isRecord(raw)) edit(raw);
  const simulationFields = isRecord(raw) && isRecord(raw.simulation) ? structuredClone(raw.simulation) : {};
  const parsed = workloadSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 20).map((issue) => {
      const at = document === undefined ? '' : positionOf(document, lineCounter, bareList ? issue.path.slice(1) : issue.path);
      return `${source}${at === '' ? '' : `:${at}`}: ${issuePath(issue.path, jsonl ? lineOf : undefined)}: ${issue.message}`;
    });
    throw new RayfleetError('SPEC_INVALID', `the workload ${source} is not valid`, { details: problems.join('\n') });
  }
  return { ...parsed.data, simulationFields };
}

/** `line:col` of the value at the path, or of its nearest parent in the file (a missing field, or one `--set` made). */
function positionOf(document: Document, lineCounter: LineCounter, keys: readonly PropertyKey[]): string {
  const path = keys.map((key) => (typeof key === 'number' ? key : String(key)));
  for (let length = path.length; length >= 0; length -= 1) {
    const node = document.getIn(path.slice(0, length), true);
    if (isNode(node) && node.range) {
      const { line, col } = lineCounter.linePos(node.range[0]);
      return `${line}:${col}`;
    }
  }
  return '';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export async function loadWorkload(file: string): Promise<Workload> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new RayfleetError('SPEC_NOT_FOUND', `cannot read the workload ${file}: ${messageOf(error)}`, { cause: error });
  }
  return parseWorkload(text, file);
}

/** JSONL has an object on each line; a YAML flow mapping on each line parses as YAML too, so the first line decides. */
function looksLikeJsonLines(text: string): boolean {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  return lines.length > 1 && lines.every((line) => line.trimStart().startsWith('{') && line.trimEnd().endsWith('}'));
}

/** `arrivals.3.duration`, or for JSONL `line 4: duration`. */
function issuePath(path: readonly PropertyKey[], lineOf: number[] | undefined): string {
  const parts = path.map(String);
  if (lineOf !== undefined && parts[0] === 'arrivals' && parts[1] !== undefined) return `line ${lineOf[Number(parts[1])] ?? '?'}${parts.length > 2 ? `: ${parts.slice(2).join('.')}` : ''}`;
  return parts.join('.') || '(the file)';
}
