// One engine of the emulated workspace: a real local process in a process group of its own, its output in a log file.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { stopProcessGroup } from '../../src/process/process-group.js';

export interface WorkloadOptions {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** stdout and stderr are appended here. */
  logPath: string;
}

export interface WorkloadExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const LISTEN_POLL_MS = 25;

export class Workload {
  /** Settles when the leader exits (never rejects). */
  readonly exited: Promise<WorkloadExit>;
  private exit: WorkloadExit | undefined;

  private constructor(
    child: ChildProcess,
    readonly pid: number,
    /** The leader's start time, which proves the group ours once the leader has gone and left children behind. */
    private readonly startTicks: number | undefined,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  /** Starts the process as the leader of a new group (so stopping it takes its children too). */
  static async start(options: WorkloadOptions): Promise<Workload> {
    const logFd = openSync(options.logPath, 'a');
    try {
      const child = spawn(options.command, options.args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', logFd, logFd] });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid ?? -1));
        child.once('error', reject);
      });
      return new Workload(child, pid, startTicksOf(pid));
    } finally {
      closeSync(logFd);
    }
  }

  get hasExited(): boolean {
    return this.exit !== undefined;
  }

  /** Polls until something accepts connections on the port (true), or the process exits first (false). */
  async waitUntilListening(port: number, signal: AbortSignal): Promise<boolean> {
    while (!this.hasExited && !signal.aborted) {
      if (await canConnect(port)) return !this.hasExited;
      await Promise.race([delay(LISTEN_POLL_MS), this.exited]);
    }
    return false;
  }

  /** SIGTERM to the leader, SIGKILL to the whole group after the grace period; resolves once no member is left. */
  async stop(graceMs: number): Promise<void> {
    await stopProcessGroup({ pid: this.pid, startTicks: this.startTicks }, graceMs);
    // The group is gone; wait for Node to reap the leader so its exit is recorded before the caller goes on.
    await this.exited;
  }
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
function startTicksOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isInteger(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
