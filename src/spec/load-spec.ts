// Loading the spec: find rayfleet.yaml, parse it keeping positions, apply env and flags, validate, and point every error at its line.
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, isMap, isNode, isScalar, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { RayfleetError } from '../errors.js';
import { applyOverrides, type Origins, type SpecOverrides } from './overrides.js';
import { clusterSpecSchema, type ClusterSpec } from './schema.js';
import { YAML_LIMITS, checkYamlLimits } from './yaml-limits.js';

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
/** Problems listed in one error; a file with more is mostly wrong, and each costs a walk of the document to place. */
const MAX_PROBLEMS_LISTED = 20;

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
  const text = specPath === undefined ? '' : await readSpecText(specPath);
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return file === undefined ? '(defaults)' : `${file}:${line}:${col}`;
  };

  // The bounds first: the parser itself is what a hostile file would keep busy.
  const limitProblem = checkYamlLimits(text);
  if (limitProblem !== undefined) throw invalid(file, [`${file ?? '(defaults)'}:${lineAndColumn(text, limitProblem.offset)} ${limitProblem.message}`]);
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length > 0) throw invalid(file, document.errors.map((error) => `${at(error.pos[0])} ${error.message}`));
  let raw: unknown;
  try {
    raw = document.toJS({ maxAliasCount: YAML_LIMITS.maxAliasCount }) ?? {};
  } catch (error) {
    // The yaml package throws (a ReferenceError) for an alias without its anchor, and for aliases that expand past maxAliasCount.
    throw invalid(file, [`${at(0)} ${aliasMessage(error)}`]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalid(file, [`${at(offsetOf(document, [], false))} the spec must be a mapping of fields (name:, head:, workerGroups:, …)`]);
  }
  const origins = applyOverrides(raw as Record<string, unknown>, options.env ?? {}, options.overrides ?? {});
  const parsed = clusterSpecSchema.safeParse(raw, { error: typeMessage });
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap(problemsOf);
    const listed = problems
      .slice(0, MAX_PROBLEMS_LISTED)
      .map((problem) => `${originOf(problem, origins) ?? at(offsetOf(document, problem.path, problem.atKey))} ${problem.path.join('.')}: ${problem.message}`);
    if (problems.length > listed.length) listed.push(`… and ${problems.length - listed.length} more`);
    throw invalid(file, listed);
  }
  return { spec: parsed.data, path: specPath, origins };
}

/** The file's text, read no further than the size bound, so a huge file (or one that grows) is refused without being held in memory. */
async function readSpecText(filePath: string): Promise<string> {
  const handle = await open(filePath, 'r');
  try {
    const buffer = Buffer.alloc(YAML_LIMITS.maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > YAML_LIMITS.maxBytes) {
      const { size } = await handle.stat();
      throw invalid(displayPath(filePath), [`${displayPath(filePath)}: the file is ${Math.max(size, length)} bytes; a spec may be at most ${YAML_LIMITS.maxBytes}`]);
    }
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** `line:col` of an offset, counted here because a text refused before parsing has no LineCounter filled in. */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `${line}:${offset - before.lastIndexOf('\n')}`;
}

function aliasMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/excessive alias count/i.test(message)) {
    return `YAML aliases (*name) expand to more than ${YAML_LIMITS.maxAliasCount} copies of their anchors (&name): an "alias bomb"; write the values out instead`;
  }
  return message;
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
