// The dashboard as a background service of this machine: one per RAYFLEET_HOME, found by its lock, its URL in a file beside it.
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { RayfleetError, isRayfleetError } from '../errors.js';
import { lockOwner, tryLock, unlock } from '../lock/directory-lock.js';
import { writeJsonAtomic } from '../fs/write-json-atomic.js';
import type { Logger } from '../log/logger.js';
import { startBackgroundService, stopBackgroundService } from '../process/background-service.js';
import { startDashboardServer } from './dashboard-server.js';
import { dashboardDir, readOrCreateDashboardToken } from './dashboard-token.js';

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
export const DEFAULT_DASHBOARD_PORT = 8266;
export const DEFAULT_DASHBOARD_HOST = '127.0.0.1';

/** Who started the running dashboard: `down` of the last cluster stops one that `up` started, never one started by hand. */
export type DashboardStarter = 'hand' | 'up';

export interface DashboardInfo {
  url: string;
  host: string;
  port: number;
  pid: number;
  startedBy: DashboardStarter;
}

export interface DashboardServiceOptions {
  host?: string;
  port?: number;
  startedBy?: DashboardStarter;
  /** Take a free port when `port` is taken (what `up` wants), instead of failing. */
  anyPortIfTaken?: boolean;
}

function servicePaths(): { lock: string; info: string; log: string } {
  const dir = dashboardDir();
  return { lock: path.join(dir, 'dashboard.lock'), info: path.join(dir, 'dashboard.json'), log: path.join(dir, 'dashboard.log') };
}

/** The running dashboard of this RAYFLEET_HOME: its lock held by a live process, and what that process wrote. */
export async function readDashboardService(): Promise<DashboardInfo | undefined> {
  const { lock, info } = servicePaths();
  const holder = await lockOwner(lock);
  if (holder === undefined) return undefined;
  try {
    const written = JSON.parse(await readFile(info, 'utf8')) as DashboardInfo;
    return written.pid === holder.owner.pid ? written : undefined;
  } catch {
    return undefined;
  }
}

/** The URL of the running dashboard, if one runs. */
export async function dashboardUrl(): Promise<string | undefined> {
  return (await readDashboardService())?.url;
}

/**
 * Starts `rayfleet dashboard` detached and waits until it serves; a dashboard that already runs is returned as it is
 * (`up` starts one when none runs). Fails with the log's tail when the process exits first.
 */
export async function startDashboardService(options: DashboardServiceOptions = {}): Promise<DashboardInfo> {
  const running = await readDashboardService();
  if (running !== undefined) return running;
  const { log } = servicePaths();
  await mkdir(dashboardDir(), { recursive: true, mode: 0o700 });
  const args = ['dashboard', '--host', options.host ?? DEFAULT_DASHBOARD_HOST, '--port', String(options.port ?? DEFAULT_DASHBOARD_PORT), '--started-by', options.startedBy ?? 'up'];
  if (options.anyPortIfTaken === true) args.push('--any-port-if-taken');
  return startBackgroundService({
    what: 'the dashboard',
    args,
    log,
    readyWhen: 'serve',
    ready: async (pid) => {
      const info = await readDashboardService();
      return info?.pid === pid ? info : undefined;
    },
    failedCode: 'DASHBOARD_FAILED',
    timeoutMs: START_TIMEOUT_MS,
  });
}

/** Stops the running dashboard (SIGTERM, SIGKILL after a grace period), only while provably the process holding the lock; false when none ran. */
export async function stopDashboardService(): Promise<boolean> {
  const holder = await lockOwner(servicePaths().lock);
  if (holder === undefined || !holder.local) return false;
  return stopBackgroundService(holder.owner, { what: 'the dashboard', graceMs: STOP_GRACE_MS });
}

/** Serves the dashboard in this process until the signal aborts, holding the machine's dashboard lock. */
export async function runDashboard(options: Required<Pick<DashboardServiceOptions, 'host' | 'port' | 'startedBy'>> & { anyPortIfTaken?: boolean; logger?: Logger; signal: AbortSignal; onListening?: (info: DashboardInfo) => void }): Promise<void> {
  const { lock, info } = servicePaths();
  await mkdir(dashboardDir(), { recursive: true, mode: 0o700 });
  const taken = await tryLock(lock);
  if (!taken.acquired) {
    const running = await readDashboardService();
    throw new RayfleetError('LOCK_HELD', `a dashboard already runs for this RAYFLEET_HOME (pid ${taken.holderPid})${running === undefined ? '' : ` at ${running.url}`}`, {
      details: 'Stop it with `rayfleet dashboard --stop`.',
    });
  }
  try {
    const token = await readOrCreateDashboardToken();
    const start = (port: number) => startDashboardServer({ host: options.host, port, token, logger: options.logger });
    const server = await start(options.port).catch((error: unknown) => {
      if (options.anyPortIfTaken === true && isRayfleetError(error, 'PORT_IN_USE')) return start(0);
      throw error;
    });
    const listening: DashboardInfo = { url: server.url, host: options.host, port: server.port, pid: process.pid, startedBy: options.startedBy };
    try {
      await writeJsonAtomic(info, listening);
      options.onListening?.(listening);
      await new Promise<void>((resolve) => {
        if (options.signal.aborted) resolve();
        options.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      await server.close();
      await rm(info, { force: true });
    }
  } finally {
    await unlock(lock);
  }
}
