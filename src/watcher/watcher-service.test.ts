import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rayfleetErrorOf } from '../../test/support/caught.js';
import { isRunning, startForeignGroup, waitUntilGone } from '../../test/support/processes.js';
import { currentBootId, currentPidNamespace } from '../process/proc-stat.js';
import { currentIdentity } from '../process/process-identity.js';
import { runningWatcherPid, stopWatcherService } from './watcher-service.js';
import { watcherPaths } from './watcher-status.js';

describe('the watcher service', () => {
  let root: string;
  let count = 0;
  const cleanups: (() => void)[] = [];
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'rf-watcher-service-'));
  });
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A cluster state dir whose watcher lock names this owner. */
  async function stateDirWithLockOwner(fields: Record<string, unknown>): Promise<string> {
    count += 1;
    const stateDir = path.join(root, `cluster-${count}`);
    const lock = watcherPaths(stateDir).lock;
    await mkdir(lock, { recursive: true });
    const now = new Date().toISOString();
    const owner = { bootId: currentBootId(), host: hostname(), pidNamespace: currentPidNamespace(), acquiredAt: now, heartbeatAt: now, ...fields };
    await writeFile(path.join(lock, 'owner-1.json'), JSON.stringify(owner));
    return stateDir;
  }

  it('stops the process that holds the lock', async () => {
    const watcher = spawn('sleep', ['300'], { stdio: 'ignore' });
    cleanups.push(() => watcher.kill('SIGKILL'));
    const stateDir = await stateDirWithLockOwner({ ...currentIdentity(watcher.pid ?? -1) });
    expect(await runningWatcherPid(stateDir)).toBe(watcher.pid);
    expect(await stopWatcherService(stateDir)).toBe(true);
    await waitUntilGone([watcher.pid ?? -1]);
  });

  it('never signals a live process that now has the lock owner’s pid (a reused pid, a rebooted machine)', async () => {
    const group = await startForeignGroup();
    cleanups.push(group.kill);
    const identity = currentIdentity(group.pid)!;
    for (const stale of [{ ...identity, startTicks: identity.startTicks - 5 }, { ...identity, bootId: 'before-the-reboot', heartbeatAt: new Date(0).toISOString() }]) {
      const stateDir = await stateDirWithLockOwner(stale);
      expect(await runningWatcherPid(stateDir)).toBeUndefined();
      expect(await stopWatcherService(stateDir)).toBe(false);
    }
    expect(isRunning(group.pid)).toBe(true);
  });

  it('says where a watcher on another host runs instead of signalling a pid of this one', async () => {
    const group = await startForeignGroup();
    cleanups.push(group.kill);
    const stateDir = await stateDirWithLockOwner({ ...currentIdentity(group.pid), host: 'head-pod-7' });
    const error = await rayfleetErrorOf(() => stopWatcherService(stateDir));
    expect(error.code).toBe('LOCK_HELD');
    expect(error.message).toContain('head-pod-7');
    expect(isRunning(group.pid)).toBe(true);
  });
});
