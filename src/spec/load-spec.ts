// Loading the spec: find rayfleet.yaml, parse it keeping positions, apply env and flags, validate, and point every error at its line.
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { RayfleetError } from '../errors.js';
import { applyOverrides, type Origins, type SpecOverrides } from './overrides.js';
import { clusterSpecSchema, type ClusterSpec } from './schema.js';

export interface LoadSpecOptions {
  /** Where the search for rayfleet.yaml starts; the process's working directory by default. */
  cwd?: string | undefined;
  /** An explicit spec file (`--config`); it must exist. */
  configPath?: string | undefined;
  env?: Record<string, string | undefined> | undefined;
  overrides?: SpecOverrides | undefined;
}

export interface LoadedSpec {
  spec: ClusterSpec;
  /** The file read, or undefined when defaults (and env and flags) alone made the spec. */
  path: string | undefined;
}

const SPEC_FILE_NAMES = ['rayfleet.yaml', 'rayfleet.yml'];

export async function loadSpec(options: LoadSpecOptions = {}): Promise<LoadedSpec> {
  const specPath = options.configPath !== undefined ? await requireFile(path.resolve(options.cwd ?? process.cwd(), options.configPath)) : await findSpecFile(options.cwd ?? process.cwd());
  const text = specPath === undefined ? '' : await readFile(specPath, 'utf8');
  const label = specPath === undefined ? '(defaults)' : path.relative(process.cwd(), specPath) || specPath;
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length > 0) {
    throw invalid(
      label,
      document.errors.map((error) => `${at(label, lineCounter, error.pos[0])} ${error.message.split('\n')[0] ?? ''}`),
    );
  }
  const content: unknown = document.toJS() ?? {};
  if (typeof content !== 'object' || Array.isArray(content) || content === null) {
    throw invalid(label, [`${label}:1:1 the spec must be a mapping of fields (name:, head:, workerGroups:, …)`]);
  }
  const raw = content as Record<string, unknown>;
  const origins = applyOverrides(raw, options.env ?? {}, options.overrides ?? {});
  const parsed = clusterSpecSchema.safeParse(raw);
  if (!parsed.success) {
    throw invalid(label, parsed.error.issues.map((issue) => `${locate(issue, document, lineCounter, label, origins)} ${issuePath(issue)}: ${issue.message}`));
  }
  return { spec: parsed.data, path: specPath };
}

async function requireFile(filePath: string): Promise<string> {
  try {
    await access(filePath);
    return filePath;
  } catch (error) {
    throw new RayfleetError('SPEC_NOT_FOUND', `spec file ${filePath} does not exist`, { cause: error });
  }
}

/** rayfleet.yaml in the directory or the nearest parent that has one. */
async function findSpecFile(start: string): Promise<string | undefined> {
  let directory = path.resolve(start);
  for (;;) {
    for (const name of SPEC_FILE_NAMES) {
      const candidate = path.join(directory, name);
      if (await access(candidate).then(() => true, () => false)) return candidate;
    }
    const parent = path.dirname(directory);
    if (parent === directory) return undefined;
    directory = parent;
  }
}

function invalid(label: string, problems: string[]): RayfleetError {
  return new RayfleetError('SPEC_INVALID', `the spec ${label} is invalid:\n  ${problems.join('\n  ')}`);
}

function issuePath(issue: z.core.$ZodIssue): string {
  return issue.path.length === 0 ? '(spec)' : issue.path.map(String).join('.');
}

/** Where a problem is: the env var or flag that set the value, else file:line:col of the value or its nearest parent in the file. */
function locate(issue: z.core.$ZodIssue, document: Document, lineCounter: LineCounter, label: string, origins: Origins): string {
  const keys = issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key));
  for (let length = keys.length; length > 0; length -= 1) {
    const origin = origins.get(keys.slice(0, length).join('.'));
    if (origin !== undefined) return origin;
  }
  if (issue.code === 'unrecognized_keys') {
    // Point at the misspelt key itself, not at the mapping that holds it.
    const holder = nodeAt(document, keys);
    const pair = isMap(holder) ? holder.items.find((item) => isScalar(item.key) && issue.keys.includes(String(item.key.value))) : undefined;
    if (isScalar(pair?.key) && pair.key.range != null) return at(label, lineCounter, pair.key.range[0]);
  }
  for (let length = keys.length; length >= 0; length -= 1) {
    const node = nodeAt(document, keys.slice(0, length));
    if (node?.range !== undefined && node.range !== null) return at(label, lineCounter, node.range[0]);
  }
  return `${label}:1:1`;
}

function nodeAt(document: Document, keys: Array<string | number>): Node | undefined {
  if (keys.length === 0) return document.contents ?? undefined;
  const node = document.getIn(keys, true);
  return isMap(node) || isSeq(node) || (typeof node === 'object' && node !== null && 'range' in node) ? (node as Node) : undefined;
}

function at(label: string, lineCounter: LineCounter, offset: number): string {
  const { line, col } = lineCounter.linePos(offset);
  return `${label}:${line}:${col}`;
}
