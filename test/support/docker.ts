// The Docker side of the end-to-end tests: the locally built Ray image, and the docker CLI to look behind rayfleet's back.
import path from 'node:path';
import { execa } from 'execa';
import { DEFAULT_RAY_VERSION } from '../../src/spec/schema.js';

/** Built from Debian packages and PyPI wheels by test/docker/build-ray-image.sh, no registry; the tag is the cache key. */
export const TEST_RAY_IMAGE = `rayfleet-test/ray:${DEFAULT_RAY_VERSION}`;
const BUILD_SCRIPT = path.resolve(import.meta.dirname, '../docker/build-ray-image.sh');

/** Builds the test image unless the engine has it; fails loudly (never skips) when there is no engine. */
export async function ensureTestRayImage(): Promise<string> {
  const result = await execa('bash', [BUILD_SCRIPT, TEST_RAY_IMAGE, DEFAULT_RAY_VERSION], { reject: false, timeout: 900_000, all: true });
  if (result.exitCode !== 0) {
    throw new Error(`building ${TEST_RAY_IMAGE} failed (is a Docker Engine running? .ci/run starts one):\n${result.all}`);
  }
  return TEST_RAY_IMAGE;
}

/** Runs the docker CLI; throws with its stderr when it fails. */
export async function docker(...args: string[]): Promise<string> {
  const result = await execa('docker', args, { reject: false, timeout: 120_000 });
  if (result.exitCode !== 0) throw new Error(`docker ${args.join(' ')} exited ${result.exitCode}: ${result.stderr}`);
  return result.stdout.trim();
}

/** Names of the containers (running or not) carrying a label, e.g. `rayfleet.cluster=ray`. */
export async function containersLabelled(label: string): Promise<string[]> {
  const out = await docker('ps', '-a', '--filter', `label=${label}`, '--format', '{{.Names}}');
  return out === '' ? [] : out.split('\n').sort();
}

export async function networkExists(name: string): Promise<boolean> {
  return (await execa('docker', ['network', 'inspect', name], { reject: false })).exitCode === 0;
}

/** A cluster name no earlier run can have left containers under: container names are global to the engine. */
export function uniqueClusterName(prefix: string): string {
  return `${prefix}${Math.random().toString(36).slice(2, 7)}`;
}
