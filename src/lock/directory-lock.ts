// A lock between processes, on one machine or on a filesystem shared by several: a directory of numbered owner records, taken over atomically.
import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { RayfleetError } from '../errors.js';
import { failpoint } from '../fault/failpoints.js';
import { bootTimeMs, currentBootId, currentPidNamespace, processStartedAtMs } from '../process/proc-stat.js';
import { currentIdentity, isSameProcess } from '../process/process-identity.js';
import { pollUntil } from '../wait/poll-until.js';
import { parseJsonOrUndefined } from '../fs/json-text.js';

/*
 * Layout: `<lockDir>/owner-<n>.json`, n = 1, 2, 3 … The lock is the highest n; it is held unless that owner
 * released it or is provably gone. Taking the lock is creating `owner-<n+1>.json` with link(2), which fails when
 * the name exists: of any number of processes that judged owner n stale, exactly one creates n+1, and no
 * process can later take a lock it judged stale in the past, because numbers are never reused while a higher
 * one exists (an entry is removed only by the owner of a higher one). That is the atomic claim a rename to a
 * tombstone would give, without its gap: a late renamer could move the successor's fresh lock aside.
 */

const LOCK_WAIT_MS = 15 * 60 * 1000;
/** How often a holder refreshes its heartbeat, which is what a process on another host judges it by. */
export const HEARTBEAT_MS = 10_000;
/** An owner on another host whose heartbeat is older than this is gone; generous, since the two clocks differ. */
export const STALE_HEARTBEAT_MS = 60_000;
const ENTRY = /^owner-(\d+)\.json$/;
/** Written by versions before owner records: the holder's bare pid. */
const LEGACY_PID_FILE = 'pid';
const MAX_CLAIM_ATTEMPTS = 50;
const TEMP_MAX_AGE_MS = 60_000;

const ownerSchema = z.object({
  pid: z.number(),
  startTicks: z.number(),
  bootId: z.string(),
  host: z.string(),
  pidNamespace: z.string(),
  acquiredAt: z.string(),
  heartbeatAt: z.string(),
  releasedAt: z.string().optional(),
});

/** Who holds (or last held) a lock. */
export type LockOwner = z.infer<typeof ownerSchema>;

/** A holder as a caller sees it: `local` owners are on this machine and can be signalled, when still the same process. */
export interface LockHolder {
  owner: LockOwner;
  local: boolean;
}

export type TryLockResult = { acquired: true } | { acquired: false; holderPid: number; holder: LockHolder };

export interface TryLockOptions {
  /** Called when the lock was lost while held: another process judged this one gone (on another host: a heartbeat missed). */
  onLost?: () => void;
}

interface HeldLock {
  entry: number;
  owner: LockOwner;
  timer: NodeJS.Timeout;
  onLost: (() => void) | undefined;
}

/** The locks this process holds, by directory, each with its heartbeat. */
const held = new Map<string, HeldLock>();

/** Tries once to take the lock; reports the holder when another live process has it. The holder's heartbeat then runs until `unlock`. */
export async function tryLock(lockDir: string, options: TryLockOptions = {}): Promise<TryLockResult> {
  const dir = path.resolve(lockDir);
  await mkdir(dir, { recursive: true });
  for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt += 1) {
    const top = await highestEntry(dir);
    if (top !== undefined) {
      const found = await readEntry(dir, top);
      // Removed meanwhile by a process that took a higher number: look again.
      if (found.kind === 'gone') continue;
      if (found.kind === 'owner') {
        const holder = { owner: found.owner, local: isLocal(found.owner) };
        if (isLive(holder)) return { acquired: false, holderPid: found.owner.pid, holder };
      }
    } else {
      const legacy = await legacyOwner(dir);
      if (legacy !== undefined && isLive(legacy)) return { acquired: false, holderPid: legacy.owner.pid, holder: legacy };
    }
    const entry = (top ?? 0) + 1;
    const owner = newOwner();
    if (!(await createEntry(dir, entry, owner))) continue;
    failpoint('lock.mid-takeover');
    // A number freed by clean-up can be created again by a process that judged an old owner stale: it lost.
    const after = await highestEntry(dir);
    if (after !== undefined && after > entry) {
      await rm(entryPath(dir, entry), { force: true });
      continue;
    }
    await clearBelow(dir, entry);
    const timer = setInterval(() => void refreshLock(dir).catch(() => undefined), HEARTBEAT_MS);
    timer.unref();
    // A hold this process lost (taken over, not yet noticed by its heartbeat) gives way to this one.
    clearInterval(held.get(dir)?.timer);
    held.set(dir, { entry, owner, timer, onLost: options.onLost });
    return { acquired: true };
  }
  // Only under a storm of processes taking and dropping the lock faster than this one can look.
  throw new RayfleetError('LOCK_HELD', `cannot take the lock ${dir}: it changed hands ${MAX_CLAIM_ATTEMPTS} times while this process tried`);
}

/**
 * Refreshes this process's heartbeat on the lock; false when this process does not hold it (any longer).
 * A lock that another process took over is dropped here and its `onLost` called.
 */
export async function refreshLock(lockDir: string): Promise<boolean> {
  const dir = path.resolve(lockDir);
  const mine = held.get(dir);
  if (mine === undefined) return false;
  const top = await highestEntry(dir);
  const current = top === mine.entry ? await readEntry(dir, top) : undefined;
  if (current?.kind !== 'owner' || current.owner.acquiredAt !== mine.owner.acquiredAt || current.owner.pid !== mine.owner.pid) {
    clearInterval(mine.timer);
    held.delete(dir);
    mine.onLost?.();
    return false;
  }
  mine.owner = { ...mine.owner, heartbeatAt: new Date().toISOString() };
  await writeOwner(dir, mine.entry, mine.owner);
  return true;
}

/** Who holds the lock, if a live process does. */
export async function lockOwner(lockDir: string): Promise<LockHolder | undefined> {
  const dir = path.resolve(lockDir);
  try {
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt += 1) {
      const top = await highestEntry(dir);
      if (top === undefined) {
        const legacy = await legacyOwner(dir);
        return legacy !== undefined && isLive(legacy) ? legacy : undefined;
      }
      const found = await readEntry(dir, top);
      if (found.kind === 'gone') continue;
      if (found.kind === 'damaged') return undefined;
      const holder = { owner: found.owner, local: isLocal(found.owner) };
      return isLive(holder) ? holder : undefined;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** The pid of the live process holding the lock, if one does (on another host, that host's pid). */
export async function lockHolder(lockDir: string): Promise<number | undefined> {
  return (await lockOwner(lockDir))?.owner.pid;
}

/** Releases a lock this process holds; a lock it does not hold is left alone. */
export async function unlock(lockDir: string): Promise<void> {
  const dir = path.resolve(lockDir);
  const mine = held.get(dir);
  if (mine === undefined) return;
  clearInterval(mine.timer);
  held.delete(dir);
  // Released, not removed: the number stays taken, so the next owner is n+1 (see the layout above).
  if ((await highestEntry(dir)) === mine.entry) await writeOwner(dir, mine.entry, { ...mine.owner, releasedAt: new Date().toISOString() });
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

/** Whether the holder still holds: same machine, the very process; another host, a recent heartbeat. */
function isLive(holder: LockHolder): boolean {
  const { owner } = holder;
  if (owner.releasedAt !== undefined) return false;
  if (holder.local) return isSameProcess(owner);
  const heartbeatMs = Date.parse(owner.heartbeatAt);
  // This host's name, last heard of before this host booted: its previous boot, gone with it (a host of the same name elsewhere would be beating now).
  const bootMs = bootTimeMs();
  if (owner.host === hostname() && bootMs !== undefined && heartbeatMs < bootMs) return false;
  return Date.now() - heartbeatMs <= STALE_HEARTBEAT_MS;
}

/**
 * Whether the owner's pid means something here: same host name, same boot and same pid namespace. A host that
 * rebooted, or another host of the same name, is judged by its heartbeat instead: it cannot be told apart from here.
 */
function isLocal(owner: LockOwner): boolean {
  return owner.host === hostname() && owner.bootId === currentBootId() && owner.pidNamespace === currentPidNamespace();
}

function newOwner(): LockOwner {
  const identity = currentIdentity(process.pid);
  const now = new Date().toISOString();
  return {
    pid: process.pid,
    startTicks: identity?.startTicks ?? -1,
    bootId: currentBootId(),
    host: hostname(),
    pidNamespace: currentPidNamespace(),
    acquiredAt: now,
    heartbeatAt: now,
  };
}

function entryPath(dir: string, entry: number): string {
  return path.join(dir, `owner-${entry}.json`);
}

async function highestEntry(dir: string): Promise<number | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let highest: number | undefined;
  for (const name of names) {
    const match = ENTRY.exec(name);
    if (match !== null) highest = Math.max(highest ?? 0, Number(match[1]));
  }
  return highest;
}

type Entry = { kind: 'gone' } | { kind: 'damaged' } | { kind: 'owner'; owner: LockOwner };

/** An entry as it is now: gone (removed by a higher owner), damaged, or its owner. */
async function readEntry(dir: string, entry: number): Promise<Entry> {
  let text: string;
  try {
    text = await readFile(entryPath(dir, entry), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' };
    throw error;
  }
  const parsed = ownerSchema.safeParse(parseJsonOrUndefined(text));
  // Entries appear whole (a link of a complete file), so one that does not parse was damaged: nobody holds through it.
  return parsed.success ? { kind: 'owner', owner: parsed.data } : { kind: 'damaged' };
}

/** Creates the entry only if the number is free: written aside, then linked (link fails when the name exists). */
async function createEntry(dir: string, entry: number, owner: LockOwner): Promise<boolean> {
  const temp = path.join(dir, `tmp-${randomUUID()}`);
  await writeFile(temp, JSON.stringify(owner));
  try {
    await link(temp, entryPath(dir, entry));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
}

/** Rewrites an entry this process owns (heartbeat, release) atomically: a reader sees the old record or the new. */
async function writeOwner(dir: string, entry: number, owner: LockOwner): Promise<void> {
  const temp = path.join(dir, `tmp-${randomUUID()}`);
  await writeFile(temp, JSON.stringify(owner));
  await rename(temp, entryPath(dir, entry));
}

/** Removes the entries below the new owner's, and what crashed writers left (old temp files, a legacy pid file). */
async function clearBelow(dir: string, entry: number): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir)) {
    const match = ENTRY.exec(name);
    if (match !== null) {
      if (Number(match[1]) < entry) await rm(path.join(dir, name), { force: true });
    } else if (name === LEGACY_PID_FILE) {
      await rm(path.join(dir, name), { force: true });
    } else if (name.startsWith('tmp-')) {
      const age = await stat(path.join(dir, name)).then((info) => now - info.mtimeMs, () => 0);
      if (age > TEMP_MAX_AGE_MS) await rm(path.join(dir, name), { force: true });
    }
  }
}

/**
 * A lock left by a version that wrote only a pid: its holder is that pid if the process started before the file
 * was written (a later process with the pid cannot have written it), on this machine.
 */
async function legacyOwner(dir: string): Promise<LockHolder | undefined> {
  const file = path.join(dir, LEGACY_PID_FILE);
  let pid: number;
  let writtenAtMs: number;
  try {
    pid = Number.parseInt(await readFile(file, 'utf8'), 10);
    writtenAtMs = (await stat(file)).mtimeMs;
  } catch {
    return undefined;
  }
  const identity = currentIdentity(pid);
  const startedAtMs = processStartedAtMs(pid);
  // One second of slack: the boot time is known to the second only.
  if (identity === undefined || startedAtMs === undefined || startedAtMs > writtenAtMs + 1000) return undefined;
  const owner = { ...newOwner(), pid, startTicks: identity.startTicks, acquiredAt: new Date(writtenAtMs).toISOString() };
  return { owner, local: true };
}

