// Loading the spec: find rayfleet.yaml, parse it keeping positions, apply env and flags, validate, and point every error at its line.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, isMap, isNode, isScalar, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { RayfleetError } from '../errors.js';
import { applyOverrides, type Origins, type SpecOverrides } from './overrides.js';
import { clusterSpecSchema, type ClusterSpec } from './schema.js';

export interface LoadSpecOptions {
  /** Where the search for rayfleet.yaml starts, and what a relative configPath is relative to; process.cwd() by default. */
  cwd?: string;
  /** An explicit spec file (`--config`); it must exist. */
  configPath?: string;
  /** The environment to read the allow-listed variables from; none are read unless it is given (the CLI passes process.env). */
  env?: Record<string, string | undefined>;
  overrides?: SpecOverrides;
}

export interface LoadedSpec {
  spec: ClusterSpec;
  /** The file read, or undefined when defaults, env and flags alone made the spec. */
  path: string | undefined;
  /** Where each value env or flags set came from, by dotted path: `watcher.maxWorkers` → `env WATCHER_MAX_WORKERS`. */
  origins: Origins;
}

const SPEC_FILE_NAMES = ['rayfleet.yaml', 'rayfleet.yml'];

/** One thing wrong, at a path in the spec; `atKey` when the key itself is wrong rather than its value. */
interface Problem {
  path: Array<string | number>;
  message: string;
  atKey: boolean;
}

export async function loadSpec(options: LoadSpecOptions = {}): Promise<LoadedSpec> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const specPath = options.configPath === undefined ? await findSpecFile(cwd) : await requireFile(path.resolve(cwd, options.configPath));
  const file = specPath === undefined ? undefined : displayPath(specPath);
  const lineCounter = new LineCounter();
  const document = parseDocument(specPath === undefined ? '' : await readFile(specPath, 'utf8'), { lineCounter, prettyErrors: false });
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return file === undefined ? '(defaults)' : `${file}:${line}:${col}`;
  };

  if (document.errors.length > 0) throw invalid(file, document.errors.map((error) => `${at(error.pos[0])} ${error.message}`));
  const raw: unknown = document.toJS() ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalid(file, [`${at(offsetOf(document, [], false))} the spec must be a mapping of fields (name:, head:, workerGroups:, …)`]);
  }
  const origins = applyOverrides(raw as Record<string, unknown>, options.env ?? {}, options.overrides ?? {});
  const parsed = clusterSpecSchema.safeParse(raw, { error: typeMessage });
  if (!parsed.success) {
    throw invalid(
      file,
      parsed.error.issues.flatMap(problemsOf).map((problem) => `${originOf(problem, origins) ?? at(offsetOf(document, problem.path, problem.atKey))} ${problem.path.join('.')}: ${problem.message}`),
    );
  }
  return { spec: parsed.data, path: specPath, origins };
}

async function isFile(filePath: string): Promise<boolean> {
  return stat(filePath).then(
    (stats) => stats.isFile(),
    () => false,
  );
}

async function requireFile(filePath: string): Promise<string> {
  if (await isFile(filePath)) return filePath;
  throw new RayfleetError('SPEC_NOT_FOUND', `no spec file at ${filePath}`);
}

/** rayfleet.yaml (or .yml) in the directory or the nearest parent that has one. */
async function findSpecFile(start: string): Promise<string | undefined> {
  for (let directory = start; ; directory = path.dirname(directory)) {
    for (const name of SPEC_FILE_NAMES) {
      const candidate = path.join(directory, name);
      if (await isFile(candidate)) return candidate;
    }
    if (path.dirname(directory) === directory) return undefined;
  }
}

/** Relative to the working directory when the file is under it, so messages stay short; absolute otherwise. */
function displayPath(filePath: string): string {
  const relative = path.relative(process.cwd(), filePath);
  return relative === '' || relative.startsWith('..') || path.isAbsolute(relative) ? filePath : relative;
}

function invalid(file: string | undefined, problems: string[]): RayfleetError {
  return new RayfleetError('SPEC_INVALID', `the spec ${file ?? 'from defaults, env and flags'} is invalid:\n  ${problems.join('\n  ')}`, {
    details: '`rayfleet spec schema` prints every field, its type and its default',
  });
}

/** Says what was found instead of zod's "received string", and calls a missing field missing. */
const typeMessage: z.core.$ZodErrorMap = (issue) => {
  if (issue.code !== 'invalid_type') return undefined;
  return issue.input === undefined ? 'required' : `expected ${issue.expected}, got ${describeValue(issue.input)}`;
};

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'a mapping';
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** One problem per issue, but one per key of an unrecognized_keys issue, so each typo points at its own line. */
function problemsOf(issue: z.core.$ZodIssue): Problem[] {
  const issuePath = issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key));
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ path: [...issuePath, key], message: 'unknown field', atKey: true }));
  return [{ path: issuePath, message: issue.message, atKey: false }];
}

/** The env var or flag that set the value at fault, if one did. */
function originOf(problem: Problem, origins: Origins): string | undefined {
  return origins.get(problem.path.join('.'));
}

/** Where in the file a problem is: the key itself for an unknown one, else the value, else (for a missing key) its nearest parent. */
function offsetOf(document: Document, keys: Array<string | number>, atKey: boolean): number {
  if (atKey) {
    const holder = document.getIn(keys.slice(0, -1), true);
    const pair = isMap(holder) ? holder.items.find((item) => isScalar(item.key) && String(item.key.value) === String(keys.at(-1))) : undefined;
    if (isNode(pair?.key) && pair.key.range) return pair.key.range[0];
  }
  for (let length = keys.length; length >= 0; length -= 1) {
    const node = document.getIn(keys.slice(0, length), true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return 0;
}
