// The Python interpreter with Ray that every node runs: a managed venv with pinned Ray, or the user's own.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import envPaths from 'env-paths';
import { execa } from 'execa';
import { RayfleetError, messageOf } from '../errors.js';
import { withDirectoryLock } from '../lock/directory-lock.js';
import { readTail } from '../fs/read-tail.js';
import { readEnv } from '../environment.js';

export interface Runtime {
  /** The interpreter that runs `ray start` and drivers. */
  python: string;
  pythonVersion: string;
  /** The `ray` command beside that interpreter. */
  ray: string;
  rayVersion: string;
  /** The venv rayfleet manages, or undefined when the user named their own interpreter. */
  venv?: string | undefined;
}

export interface RuntimeOptions {
  rayVersion: string;
  /** An existing interpreter with Ray (`ray.python` in the spec, `RAYFLEET_PYTHON`). */
  python?: string | undefined;
  /** Where managed venvs live; defaults to the user's cache dir. */
  cacheDir?: string | undefined;
  /** Progress lines for a person; silent when absent. */
  onProgress?: ((line: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

const READY_MARKER = '.rayfleet-ready';
/** Ray's extras every node needs: the dashboard, Jobs and metrics (`default`), and Serve's proxy and replicas (`serve`). */
export const RAY_EXTRAS = ['default', 'serve'] as const;
/** The pip requirement of the runtime, e.g. `ray[default,serve]==2.60.0`. */
export function rayRequirement(rayVersion: string): string {
  return `ray[${RAY_EXTRAS.join(',')}]==${rayVersion}`;
}
const PIP_TAIL_LINES = 30;

export function defaultCacheDir(): string {
  return readEnv('RAYFLEET_CACHE_DIR') ?? envPaths('rayfleet', { suffix: '' }).cache;
}

/** Finds or builds the runtime: the user's interpreter if named, else the managed venv for this Ray version. */
export async function ensureRuntime(options: RuntimeOptions): Promise<Runtime> {
  if (options.python !== undefined) return describeInterpreter(options.python, undefined);
  const bootstrap = await bootstrapPython();
  const venv = venvPath(options, bootstrap.version);
  if (!(await isReady(venv, options.rayVersion))) {
    await withDirectoryLock(`${venv}.lock`, options.signal, async () => {
      // Another process may have finished the install while this one waited for the lock.
      if (!(await isReady(venv, options.rayVersion))) await installVenv(venv, bootstrap.python, options);
    });
  }
  return describeInterpreter(path.join(venv, 'bin', 'python'), venv);
}

/** The runtime as it is, without installing anything: for `runtime info`. */
export async function findRuntime(options: RuntimeOptions): Promise<Runtime | undefined> {
  if (options.python !== undefined) return describeInterpreter(options.python, undefined);
  const bootstrap = await bootstrapPython();
  const venv = venvPath(options, bootstrap.version);
  return (await isReady(venv, options.rayVersion)) ? describeInterpreter(path.join(venv, 'bin', 'python'), venv) : undefined;
}

/** The extras are part of the cache key, so a venv built before Serve was installed is not reused. */
function venvPath(options: RuntimeOptions, pythonVersion: string): string {
  return path.join(options.cacheDir ?? defaultCacheDir(), 'runtimes', `ray-${options.rayVersion}-${RAY_EXTRAS.join('-')}-py${pythonVersion}`);
}

async function bootstrapPython(): Promise<{ python: string; version: string }> {
  const python = readEnv('RAYFLEET_BOOTSTRAP_PYTHON') ?? 'python3';
  try {
    const { stdout } = await execa(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
    return { python, version: stdout.trim() };
  } catch (error) {
    throw new RayfleetError('PYTHON_NOT_FOUND', `cannot run ${python} to build Ray's venv: ${messageOf(error)}`, {
      cause: error,
      details: 'Install Python 3.9 or newer (for example `apt-get install python3 python3-venv`), or set RAYFLEET_PYTHON to an interpreter that has Ray.',
    });
  }
}

async function isReady(venv: string, rayVersion: string): Promise<boolean> {
  try {
    return (await readFile(path.join(venv, READY_MARKER), 'utf8')).trim() === rayVersion;
  } catch {
    return false;
  }
}

async function installVenv(venv: string, bootstrapPythonPath: string, options: RuntimeOptions): Promise<void> {
  const progress = options.onProgress ?? (() => undefined);
  // A venv left half-built by a killed install is not trusted: start again.
  await rm(venv, { recursive: true, force: true });
  await mkdir(path.dirname(venv), { recursive: true });
  const logPath = `${venv}.install.log`;
  progress(`creating venv ${venv}`);
  await runLogged(bootstrapPythonPath, ['-m', 'venv', venv], logPath, options.signal);
  progress(`installing ${rayRequirement(options.rayVersion)} (log: ${logPath})`);
  await runLogged(
    path.join(venv, 'bin', 'python'),
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', rayRequirement(options.rayVersion)],
    logPath,
    options.signal,
  );
  await writeFile(path.join(venv, READY_MARKER), `${options.rayVersion}\n`);
  progress('ray runtime ready');
}

/** Runs an install step with its output appended to a log; a failure carries the log's tail. */
async function runLogged(command: string, args: string[], logPath: string, signal: AbortSignal | undefined): Promise<void> {
  const log = createWriteStream(logPath, { flags: 'a' });
  await new Promise<void>((resolve) => log.once('open', () => resolve()));
  const exitCode = await new Promise<number | string>((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', log, log], signal });
    child.once('error', (error) => resolve(messageOf(error)));
    child.once('exit', (code, exitSignal) => resolve(code ?? `signal ${exitSignal}`));
  });
  await new Promise<void>((resolve) => log.end(resolve));
  if (exitCode === 0) return;
  throw new RayfleetError('RUNTIME_INSTALL_FAILED', `\`${path.basename(command)} ${args.join(' ')}\` failed (${exitCode})`, {
    details: `last lines of ${logPath}:\n${await readTail(logPath, PIP_TAIL_LINES)}`,
  });
}

async function describeInterpreter(python: string, venv: string | undefined): Promise<Runtime> {
  let versions: { python: string; ray: string };
  try {
    const { stdout } = await execa(python, ['-c', 'import json, sys, ray; print(json.dumps({"python": "%d.%d.%d" % sys.version_info[:3], "ray": ray.__version__}))']);
    versions = JSON.parse(stdout) as { python: string; ray: string };
  } catch (error) {
    throw new RayfleetError('RAY_NOT_INSTALLED', `${python} cannot import ray: ${messageOf(error).split('\n').at(-1) ?? ''}`, {
      cause: error,
      details: 'Point ray.python (or RAYFLEET_PYTHON) at an interpreter with `ray[default,serve]` installed, or leave it unset to let rayfleet manage a venv.',
    });
  }
  const ray = path.join(path.dirname(python), 'ray');
  await access(ray).catch((error: unknown) => {
    throw new RayfleetError('RAY_NOT_INSTALLED', `no \`ray\` command beside ${python}`, { cause: error });
  });
  return { python, pythonVersion: versions.python, ray, rayVersion: versions.ray, venv };
}
