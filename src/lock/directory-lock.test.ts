import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killScripts, runScript, startForeignGroup, waitUntilGone } from '../../test/support/processes.js';
import { bootTimeMs, currentBootId, currentPidNamespace } from '../process/proc-stat.js';
import { currentIdentity } from '../process/process-identity.js';
import { HEARTBEAT_MS, STALE_HEARTBEAT_MS, lockHolder, lockOwner, refreshLock, tryLock, unlock, withDirectoryLock, type LockOwner } from './directory-lock.js';

describe('directory lock', () => {
  let root: string;
  let dead: { pid: number; startTicks: number; bootId: string };
  let n = 0;
  const cleanups: (() => void)[] = [];

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'rf-lock-'));
    // A real process that has ended: its identity is a dead owner's.
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    dead = currentIdentity(child.pid ?? -1)!;
    child.kill('SIGKILL');
    await waitUntilGone([dead.pid]);
  });
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    killScripts();
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function freshDir(): string {
    n += 1;
    return path.join(root, `lock-${n}`);
  }

  function owner(fields: Partial<LockOwner>): LockOwner {
    const now = new Date().toISOString();
    return { pid: dead.pid, startTicks: dead.startTicks, bootId: currentBootId(), host: hostname(), pidNamespace: currentPidNamespace(), acquiredAt: now, heartbeatAt: now, ...fields };
  }

  /** Writes an owner record as another process would have left it. */
  async function leaveOwner(lockDir: string, entry: number, fields: Partial<LockOwner>): Promise<void> {
    await mkdir(lockDir, { recursive: true });
    await writeFile(path.join(lockDir, `owner-${entry}.json`), JSON.stringify(owner(fields)));
  }

  async function entries(lockDir: string): Promise<string[]> {
    return (await readdir(lockDir)).filter((name) => name.startsWith('owner-')).sort();
  }

  it('is taken once, refused while held, free again after unlock', async () => {
    const lockDir = freshDir();
    expect(await tryLock(lockDir)).toEqual({ acquired: true });
    expect(await lockHolder(lockDir)).toBe(process.pid);
    const again = await tryLock(lockDir);
    expect(again.acquired).toBe(false);
    await unlock(lockDir);
    expect(await lockHolder(lockDir)).toBeUndefined();
    expect(await tryLock(lockDir)).toEqual({ acquired: true });
    // Numbers are never reused, and only the latest owner is kept.
    expect(await entries(lockDir)).toEqual(['owner-2.json']);
    await unlock(lockDir);
  });

  it('is refused while another live process holds it, and names it', async () => {
    const lockDir = freshDir();
    const holder = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/support/lock-child.ts'), lockDir, 'hold'], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => holder.kill('SIGKILL'));
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const result = await tryLock(lockDir);
    expect(result).toMatchObject({ acquired: false, holderPid: holder.pid, holder: { local: true } });
    holder.kill('SIGKILL');
    await waitUntilGone([holder.pid ?? -1]);
    // Its holder died without unlocking: the lock is stale and is taken over.
    expect(await tryLock(lockDir)).toEqual({ acquired: true });
    await unlock(lockDir);
  });

  it('takes over a dead owner, a reused pid and an owner from another boot, and keeps a live one', async () => {
    const foreign = await startForeignGroup();
    cleanups.push(foreign.kill);
    const reused = { pid: foreign.pid, startTicks: currentIdentity(foreign.pid)!.startTicks - 3 };
    // Rebooted: this host's name, another boot, last heard of before this boot.
    const rebooted = { ...currentIdentity(foreign.pid)!, bootId: 'another-boot', heartbeatAt: new Date(bootTimeMs()! - 60_000).toISOString() };
    for (const stale of [{}, reused, rebooted]) {
      const lockDir = freshDir();
      await leaveOwner(lockDir, 4, stale);
      expect(await lockHolder(lockDir)).toBeUndefined();
      expect(await tryLock(lockDir)).toEqual({ acquired: true });
      expect(await entries(lockDir)).toEqual(['owner-5.json']);
      await unlock(lockDir);
    }
    const live = freshDir();
    await leaveOwner(live, 1, currentIdentity(foreign.pid)!);
    expect(await tryLock(live)).toMatchObject({ acquired: false, holderPid: foreign.pid });
    // Another boot beating now cannot be told from another host of the same name: its heartbeat decides.
    const otherBoot = freshDir();
    await leaveOwner(otherBoot, 1, { ...currentIdentity(foreign.pid)!, bootId: 'another-boot' });
    expect(await tryLock(otherBoot)).toMatchObject({ acquired: false, holder: { local: false } });
  });

  it('judges an owner on another host by its heartbeat', async () => {
    const fresh = freshDir();
    await leaveOwner(fresh, 1, { host: 'pod-elsewhere', pid: 1 });
    expect(await tryLock(fresh)).toMatchObject({ acquired: false, holderPid: 1, holder: { local: false } });
    expect((await lockOwner(fresh))?.owner.host).toBe('pod-elsewhere');
    const stale = freshDir();
    await leaveOwner(stale, 1, { host: 'pod-elsewhere', pid: 1, heartbeatAt: new Date(Date.now() - STALE_HEARTBEAT_MS - 1000).toISOString() });
    expect(await tryLock(stale)).toEqual({ acquired: true });
    await unlock(stale);
  });

  it('judges an owner in another pid namespace (a container on this host) by its heartbeat, not by a pid of this one', async () => {
    const lockDir = freshDir();
    await leaveOwner(lockDir, 1, { pidNamespace: 'pid:[4026532999]', pid: 1 });
    expect(await tryLock(lockDir)).toMatchObject({ acquired: false, holderPid: 1, holder: { local: false } });
  });

  it('of several takers at once in one process, exactly one wins, and no draft is left behind', async () => {
    const lockDir = freshDir();
    await leaveOwner(lockDir, 1, {});
    const results = await Promise.all(Array.from({ length: 8 }, () => tryLock(lockDir)));
    expect(results.filter((result) => result.acquired)).toHaveLength(1);
    expect(await readdir(lockDir)).toEqual(['owner-2.json']);
    await unlock(lockDir);
  });

  it('refreshes its heartbeat, and learns when it lost the lock', async () => {
    const lockDir = freshDir();
    let lost = 0;
    expect(await tryLock(lockDir, { onLost: () => (lost += 1) })).toEqual({ acquired: true });
    const before = JSON.parse(await readFile(path.join(lockDir, 'owner-1.json'), 'utf8')) as LockOwner;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await refreshLock(lockDir)).toBe(true);
    const after = JSON.parse(await readFile(path.join(lockDir, 'owner-1.json'), 'utf8')) as LockOwner;
    expect(Date.parse(after.heartbeatAt)).toBeGreaterThan(Date.parse(before.heartbeatAt));
    expect(HEARTBEAT_MS * 3).toBeLessThan(STALE_HEARTBEAT_MS);
    // Another host judged this one gone and took over.
    await leaveOwner(lockDir, 2, { host: 'pod-elsewhere', pid: 1 });
    expect(await refreshLock(lockDir)).toBe(false);
    expect(lost).toBe(1);
    expect(await refreshLock(lockDir)).toBe(false);
    expect(lost).toBe(1);
  });

  it('takes over a damaged owner record, and a lock left by a version that wrote only a pid when its writer is gone', async () => {
    const damaged = freshDir();
    await mkdir(damaged, { recursive: true });
    await writeFile(path.join(damaged, 'owner-3.json'), '{"pid": 12');
    expect(await lockOwner(damaged)).toBeUndefined();
    expect(await tryLock(damaged)).toEqual({ acquired: true });
    expect(await lockHolder(damaged)).toBe(process.pid);
    await unlock(damaged);

    const legacy = freshDir();
    await mkdir(legacy, { recursive: true });
    await writeFile(path.join(legacy, 'pid'), `${dead.pid}\n`);
    expect(await tryLock(legacy)).toEqual({ acquired: true });
    expect(existsSync(path.join(legacy, 'pid'))).toBe(false);
    await unlock(legacy);
  });

  it('keeps a lock left by a version that wrote only a pid while its writer lives, but not for a later process with that pid', async () => {
    const foreign = await startForeignGroup();
    cleanups.push(foreign.kill);
    const legacy = freshDir();
    await mkdir(legacy, { recursive: true });
    const pidFile = path.join(legacy, 'pid');
    await writeFile(pidFile, `${foreign.pid}\n`);
    expect(await tryLock(legacy)).toMatchObject({ acquired: false, holderPid: foreign.pid });
    // Written an hour before the process with this pid started: someone else wrote it.
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await utimes(pidFile, anHourAgo, anHourAgo);
    expect(await tryLock(legacy)).toEqual({ acquired: true });
    await unlock(legacy);
  });

  it('runs work under the lock, one holder at a time', async () => {
    const lockDir = freshDir();
    let inside = 0;
    let most = 0;
    await Promise.all(
      [1, 2, 3].map(() =>
        withDirectoryLock(lockDir, undefined, async () => {
          inside += 1;
          most = Math.max(most, inside);
          await new Promise((resolve) => setTimeout(resolve, 50));
          inside -= 1;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(await lockHolder(lockDir)).toBeUndefined();
  });

  it('recovers from a process killed in the middle of a takeover', async () => {
    const lockDir = freshDir();
    await leaveOwner(lockDir, 1, {});
    const killed = await runScript('lock-child.ts', [lockDir, 'take'], { RAYFLEET_FAILPOINTS: 'lock.mid-takeover' });
    expect(killed.signal).toBe('SIGKILL');
    // It died holding the successor, the old owner not yet cleared: both are dead owners now.
    expect(await entries(lockDir)).toEqual(['owner-1.json', 'owner-2.json']);
    expect(await lockHolder(lockDir)).toBeUndefined();
    expect(await tryLock(lockDir)).toEqual({ acquired: true });
    expect(await entries(lockDir)).toEqual(['owner-3.json']);
    await unlock(lockDir);
  });

  it('of 6 processes racing for a dead owner’s lock, exactly one takes it, round after round', async () => {
    const racers = 6;
    const rounds = 15;
    const lockDir = freshDir();
    const barrier = freshDir();
    await mkdir(barrier, { recursive: true });
    const children = Array.from({ length: racers }, (_, id) =>
      runScript('lock-child.ts', [lockDir, 'race', barrier, String(rounds), String(id)]),
    );
    const stale = [{}, { pid: process.pid, startTicks: currentIdentity(process.pid)!.startTicks + 1 }, { bootId: 'another-boot', heartbeatAt: new Date(bootTimeMs()! - 60_000).toISOString() }];
    const holdersPerRound: number[] = [];
    for (let round = 1; round <= rounds; round += 1) {
      const highest = Math.max(0, ...(await entries(lockDir).catch(() => [])).map((name) => Number(/\d+/.exec(name)?.[0])));
      await leaveOwner(lockDir, highest + 1, stale[round % stale.length]!);
      await writeFile(path.join(barrier, `go-${round}`), '');
      const outcomes = await waitForFiles(barrier, Array.from({ length: racers }, (_, id) => `result-${round}-${id}`));
      expect(outcomes.filter((outcome) => outcome.startsWith('error'))).toEqual([]);
      const holders = outcomes.filter((outcome) => outcome === 'acquired').length;
      holdersPerRound.push(holders);
      if (holders === 0) break;
      await writeFile(path.join(barrier, `end-${round}`), '');
      await waitForFiles(barrier, [`unlocked-${round}`]);
    }
    expect(holdersPerRound).toEqual(Array(rounds).fill(1));
    const results = await Promise.all(children);
    expect(results.map((result) => result.code)).toEqual(Array(racers).fill(0));
  }, 120_000);
});

async function waitForFiles(dir: string, names: string[]): Promise<string[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const texts = await Promise.all(names.map((name) => readFile(path.join(dir, name), 'utf8').catch(() => undefined)));
    if (texts.every((text) => text !== undefined)) return texts as string[];
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${names.join(', ')} in ${dir}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
