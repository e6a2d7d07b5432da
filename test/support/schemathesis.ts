// schemathesis from PyPI in a venv of the test suite's own, cached between runs, run against a live OpenAPI document.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

const VERSION = '4.32.5';
const VENV = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'rayfleet-test', `schemathesis-${VERSION}`);

/** The schemathesis command, installed into the cached venv the first time (one pip install from PyPI). */
export async function ensureSchemathesis(): Promise<string> {
  const command = path.join(VENV, 'bin', 'schemathesis');
  if (existsSync(command)) return command;
  await execa('python3', ['-m', 'venv', VENV]);
  const installed = await execa(path.join(VENV, 'bin', 'pip'), ['install', '--quiet', `schemathesis==${VERSION}`], { reject: false, all: true, timeout: 600_000 });
  if (installed.exitCode !== 0) throw new Error(`pip install schemathesis==${VERSION} failed:\n${installed.all}`);
  return command;
}

/** Runs schemathesis with every check that applies; the exit code and the report's tail, for the assertion message. */
export async function runSchemathesis(command: string, schemaUrl: string, args: string[]): Promise<{ exitCode: number; output: string }> {
  // From the temp dir: schemathesis leaves a .schemathesis/ cache where it runs.
  const result = await execa(command, ['run', schemaUrl, '--checks', 'all', ...args], { reject: false, all: true, timeout: 300_000, cwd: os.tmpdir(), env: { NO_COLOR: '1' } });
  return { exitCode: result.exitCode ?? -1, output: (result.all ?? '').split('\n').slice(-60).join('\n') };
}
