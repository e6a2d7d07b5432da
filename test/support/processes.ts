// Processes in tests: which ones belong to a cluster (by RAY_CLOUD_INSTANCE_ID), foreign ones to protect, and small scripts run to their end or their failpoint.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readProcStat } from '../../src/process/proc-stat.js';
import { holdsFileUnder } from '../../src/process/process-group.js';
import { pollUntil } from '../../src/wait/poll-until.js';

export function processesOfNodes(nodeNames: string[]): number[] {
  const names = new Set(nodeNames);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) continue;
    } catch {
      continue;
    }
    const instance = environ.split('\0').find((variable) => variable.startsWith('RAY_CLOUD_INSTANCE_ID='));
    if (instance !== undefined && names.has(instance.slice('RAY_CLOUD_INSTANCE_ID='.length))) pids.push(Number(entry));
  }
  return pids;
}

/** Live (not zombie) processes whose environment has `name=value`. */
export function processesWithEnv(name: string, value: string): number[] {
  return processesWhere((variables) => variables.includes(`${name}=${value}`));
}

/** The nodes (RAY_CLOUD_INSTANCE_ID) that live processes carrying a cluster's id belong to, each name once, sorted. */
export function nodesWithClusterId(clusterId: string): string[] {
  const names = processesWithEnv('RAYFLEET_CLUSTER_ID', clusterId).flatMap((pid) => {
    try {
      const variable = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((entry) => entry.startsWith('RAY_CLOUD_INSTANCE_ID='));
      return variable === undefined ? [] : [variable.slice('RAY_CLOUD_INSTANCE_ID='.length)];
    } catch {
      return [];
    }
  });
  return [...new Set(names)].sort();
}

/**
 * Live processes holding a file open under `dir` (a cluster's Ray temp dir): Ray's processes that set their title
 * (`ray::DashboardAgent`, workers) write it over their environment, so only this finds them.
 */
export function processesHoldingFilesUnder(dir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && isRunning(Number(entry)))
    .map(Number)
    .filter((pid) => holdsFileUnder(pid, dir));
}

/** Live processes whose variable `name` starts with `prefix` (every node under a test's directory). */
export function processesWithEnvPrefix(name: string, prefix: string): number[] {
  return processesWhere((variables) => variables.some((variable) => variable.startsWith(`${name}=${prefix}`)));
}

function processesWhere(matches: (variables: string[]) => boolean): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return isRunning(Number(entry)) && matches(readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0'));
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Whether the pid is a live process (a zombie has finished). */
export function isRunning(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/**
 * A process that is not rayfleet's: `sleep` as the leader of a process group of its own (as a reused pid would be),
 * optionally with a child in that group; resolves once every member runs. Kill it with `kill()` at the end of the test.
 */
export async function startForeignGroup(options: { withChild?: boolean; env?: Record<string, string> } = {}): Promise<{ pid: number; child: ChildProcess; kill: () => void }> {
  const withChild = options.withChild === true;
  const child = spawn('/bin/sh', ['-c', withChild ? 'sleep 300 & exec sleep 300' : 'exec sleep 300'], { detached: true, stdio: 'ignore', env: { ...process.env, ...options.env } });
  const pid = child.pid ?? -1;
  await pollUntil(async () => (groupMembers(pid).length === (withChild ? 2 : 1) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep') ? true : undefined), {
    timeoutMs: 10_000,
    intervalMs: 10,
    describe: () => `the foreign group ${pid} to start`,
  });
  return { pid, child, kill: () => killGroup(pid) };
}

/** The live processes of a process group. */
export function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      const stat = readProcStat(pid);
      return stat !== undefined && stat.pgid === pgid && stat.state !== 'Z';
    });
}

/** SIGKILL to a whole group a test started, gone or not: for clean-up. */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export async function waitUntilGone(pids: number[], timeoutMs = 10_000): Promise<void> {
  await pollUntil(async () => (pids.some(isRunning) ? undefined : true), { timeoutMs, intervalMs: 50, describe: () => `pids ${pids.filter(isRunning).join(', ')} to end` });
}

export interface ScriptResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const runningScripts = new Set<ChildProcess>();

/** Runs a TypeScript file of test/support with tsx in a child Node, to its end (or its failpoint). */
export function runScript(name: string, args: string[], env: Record<string, string> = {}): Promise<ScriptResult> {
  const script = fileURLToPath(new URL(`./${name}`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  runningScripts.add(child);
  child.once('exit', () => runningScripts.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Kills the scripts still running (a test that failed half-way): for afterEach. */
export function killScripts(): void {
  for (const child of runningScripts) child.kill('SIGKILL');
}
