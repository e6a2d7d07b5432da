// Runs the built rayfleet CLI as a user would, in a sandbox of its own (state dir, working directory, spec).
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { findFreePorts } from '../../src/net/ports.js';

const BIN = path.resolve(import.meta.dirname, '../../bin/rayfleet.js');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface Sandbox {
  /** RAYFLEET_HOME and the working directory of every command. */
  dir: string;
  env: Record<string, string>;
  run(args: string[], options?: { env?: Record<string, string>; timeoutMs?: number }): Promise<CliResult>;
  /** Runs and parses stdout as JSON, failing with the command's stderr if it did not succeed. */
  json<T>(args: string[]): Promise<T>;
}

export async function createSandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rf-e2e-'));
  const env = { RAYFLEET_HOME: path.join(dir, 'home') };
  const run = async (args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> => {
    const result = await execa(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...env, ...options.env },
      reject: false,
      timeout: options.timeoutMs ?? 300_000,
    });
    return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
  };
  return {
    dir,
    env,
    run,
    async json<T>(args: string[]): Promise<T> {
      const result = await run([...args, '--json']);
      if (result.exitCode !== 0) throw new Error(`rayfleet ${args.join(' ')} exited ${result.exitCode}: ${result.stderr}`);
      return JSON.parse(result.stdout) as T;
    },
  };
}

/** A spec for a small test cluster on free ports, written as FILE in the sandbox. */
export async function writeTestSpec(
  sandbox: Sandbox,
  file: string,
  spec: { name: string; workers: number; max?: number; watcher?: string; extraGroups?: string[] },
): Promise<string> {
  const [gcsPort, dashboardPort, clientPort] = await findFreePorts(3);
  const text = [
    `name: ${spec.name}`,
    'head: { cpus: 0, objectStoreMemory: 100MB, gcsPort: ' + gcsPort + ', dashboardPort: ' + dashboardPort + ', clientPort: ' + clientPort + ' }',
    'workerGroups:',
    `  - { name: worker, cpus: 1, objectStoreMemory: 100MB, min: ${spec.workers}, max: ${spec.max ?? 6} }`,
    ...(spec.extraGroups ?? []).map((group) => `  - ${group}`),
    // Tests of the watcher say how it runs; the others keep it off so they see only what they did.
    `watcher: ${spec.watcher ?? '{ enabled: false }'}`,
    // Only the dashboard's own tests start it.
    'dashboard: { enabled: false }',
  ].join('\n');
  const specPath = path.join(sandbox.dir, file);
  await writeFile(specPath, `${text}\n`);
  return specPath;
}
