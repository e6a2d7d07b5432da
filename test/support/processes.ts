// Processes in tests: which ones belong to a cluster (by RAY_CLOUD_INSTANCE_ID), foreign ones to protect, and small scripts run to their end or their failpoint.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readProcStat } from '../../src/process/proc-stat.js';
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
  const wanted = `${name}=${value}`;
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return isRunning(Number(entry)) && readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(wanted);
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
 * optionally with a child in that group. Kill it with `kill()` at the end of the test.
 */
export function startForeignGroup(options: { withChild?: boolean; env?: Record<string, string> } = {}): { pid: number; child: ChildProcess; kill: () => void } {
  const script = options.withChild === true ? 'sleep 300 & exec sleep 300' : 'exec sleep 300';
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore', env: { ...process.env, ...options.env } });
  const pid = child.pid ?? -1;
  return {
    pid,
    child,
    kill: () => killGroup(pid),
  };
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

/** Runs a TypeScript file of test/support with tsx in a child Node, to its end (or its failpoint). */
export function runScript(name: string, args: string[], env: Record<string, string> = {}): Promise<ScriptResult> {
  const script = fileURLToPath(new URL(`./${name}`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
