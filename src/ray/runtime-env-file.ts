// A runtime env written in a file, YAML or JSON (JSON is YAML), as `ray job submit --runtime-env FILE` reads one.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { RayfleetError, messageOf } from '../errors.js';
import type { RuntimeEnv } from './runtime-env.js';

/** The file's runtime env; USAGE when it cannot be read or holds anything but a mapping. */
export async function readRuntimeEnvFile(file: string): Promise<RuntimeEnv> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new RayfleetError('USAGE', `cannot read --runtime-env ${file}: ${messageOf(error)}`, { cause: error });
  }
  const value: unknown = parseYaml(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RayfleetError('USAGE', `--runtime-env ${file} must hold a mapping of runtime env fields`);
  return value as RuntimeEnv;
}
