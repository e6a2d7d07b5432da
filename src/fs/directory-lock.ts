// A lock between processes on one machine: a directory made atomically, holding the owner's pid.
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isProcessAlive } from '../process/process-alive.js';
import { pollUntil } from '../wait/poll-until.js';

const LOCK_WAIT_MS = 15 * 60 * 1000;
const PID_WRITE_GRACE_MS = 10_000;

/** Tries once to take the lock; returns the holder's pid when another live process has it. */
export async function tryLock(lockDir: string): Promise<{ acquired: true } | { acquired: false; holderPid: number }> {
  await mkdir(path.dirname(lockDir), { recursive: true });
  try {
    await mkdir(lockDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = await readHolder(lockDir);
    if (holder.alive) return { acquired: false, holderPid: holder.pid };
    // The holder died without releasing: the lock is stale, take it over.
    await rm(lockDir, { recursive: true, force: true });
    return tryLock(lockDir);
  }
  await writeFile(path.join(lockDir, 'pid'), `${process.pid}\n`);
  return { acquired: true };
}

/** The pid of the live process holding the lock, if one does. */
export async function lockHolder(lockDir: string): Promise<number | undefined> {
  try {
    const holder = await readHolder(lockDir);
    return holder.alive && holder.pid > 0 ? holder.pid : undefined;
  } catch {
    return undefined;
  }
}

export async function unlock(lockDir: string): Promise<void> {
  await rm(lockDir, { recursive: true, force: true });
}

/** Runs `work` holding the lock, waiting for another holder to finish first. */
export async function withDirectoryLock<T>(lockDir: string, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
  await pollUntil(async () => (await tryLock(lockDir)).acquired || undefined, {
    timeoutMs: LOCK_WAIT_MS,
    intervalMs: 500,
    signal,
    describe: () => `the lock ${lockDir}`,
  });
  try {
    return await work();
  } finally {
    await unlock(lockDir);
  }
}

async function readHolder(lockDir: string): Promise<{ alive: boolean; pid: number }> {
  try {
    const pid = Number.parseInt(await readFile(path.join(lockDir, 'pid'), 'utf8'), 10);
    return { alive: pid > 0 && isProcessAlive(pid), pid };
  } catch {
    // No pid yet: the holder is between mkdir and writeFile, unless it died there long ago.
    const ageMs = Date.now() - (await stat(lockDir)).mtimeMs;
    return { alive: ageMs < PID_WRITE_GRACE_MS, pid: 0 };
  }
}
