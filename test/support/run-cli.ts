// Runs the built rayfleet CLI as a user would, in a sandbox of its own (state dir, working directory, spec).
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

const BIN = path.resolve(import.meta.dirname, '../../bin/rayfleet.js');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** More of the command's environment, over the sandbox's RAYFLEET_HOME. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface Sandbox {
  /** RAYFLEET_HOME and the working directory of every command. */
  dir: string;
  env: Record<string, string>;
  run(args: string[], options?: RunOptions): Promise<CliResult>;
  /** Runs and parses stdout as JSON, failing with the command's stderr if it did not succeed. */
  json<T>(args: string[], options?: RunOptions): Promise<T>;
}

export async function createSandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rf-e2e-'));
  const env = { RAYFLEET_HOME: path.join(dir, 'home') };
  const run = async (args: string[], options: RunOptions = {}): Promise<CliResult> => {
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
    async json<T>(args: string[], options: RunOptions = {}): Promise<T> {
      const result = await run([...args, '--json'], options);
      if (result.exitCode !== 0) throw new Error(`rayfleet ${args.join(' ')} exited ${result.exitCode}: ${result.stderr}`);
      return JSON.parse(result.stdout) as T;
    },
  };
}
