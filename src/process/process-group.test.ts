import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { groupMembers, isRunning, killGroup, startForeignGroup, waitUntilGone } from '../../test/support/processes.js';
import { currentBootId, readProcStat } from './proc-stat.js';
import { currentIdentity } from './process-identity.js';
import { isGroupAlive, isLeaderAlive, startGatedProcessGroup, startProcessGroup, stopProcessGroup, type ProcessHandle } from './process-group.js';

describe('process groups', () => {
  let dir: string;
  const cleanups: (() => void)[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rf-group-'));
  });
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function foreign(options?: Parameters<typeof startForeignGroup>[0]): ReturnType<typeof startForeignGroup> {
    const group = await startForeignGroup(options);
    cleanups.push(group.kill);
    return group;
  }

  it('stops a group it started, children included', async () => {
    const handle = await startProcessGroup({ command: '/bin/sh', args: ['-c', 'sleep 300 & exec sleep 300'], env: process.env, logPath: path.join(dir, 'a.log') });
    cleanups.push(() => killGroup(handle.pid));
    expect(handle.bootId).toBe(currentBootId());
    expect(isLeaderAlive(handle)).toBe(true);
    await stopProcessGroup(handle, 300);
    expect(isGroupAlive(handle)).toBe(false);
  });

  it('never signals a live process whose start time differs from the record (a reused pid)', async () => {
    const group = await foreign({ withChild: true });
    const { startTicks } = currentIdentity(group.pid)!;
    const stale: ProcessHandle = { pid: group.pid, startTicks: startTicks - 7, bootId: currentBootId() };
    expect(isLeaderAlive(stale)).toBe(false);
    expect(isGroupAlive(stale)).toBe(false);
    await stopProcessGroup(stale, 100);
    expect(isRunning(group.pid)).toBe(true);
    expect(readProcStat(group.pid)?.state).not.toBe('Z');
  });

  it('never signals a process recorded in another boot (a rebooted machine)', async () => {
    const group = await foreign();
    const identity = currentIdentity(group.pid)!;
    await stopProcessGroup({ ...identity, bootId: 'another-boot' }, 100);
    expect(isRunning(group.pid)).toBe(true);
  });

  it('once the leader is gone, leaves a group whose members do not carry the marker', async () => {
    // A foreign group whose leader exited: its member has pgid = the old pid, as ours would.
    const child = await startForeignGroup({ withChild: true, env: { MARK: 'theirs' } });
    cleanups.push(child.kill);
    const identity = currentIdentity(child.pid)!;
    process.kill(child.pid, 'SIGKILL');
    await waitUntilGone([child.pid]);
    const handle: ProcessHandle = { ...identity, marker: { name: 'MARK', value: 'ours' } };
    expect(isGroupAlive(handle)).toBe(false);
    await stopProcessGroup(handle, 100);
    expect(isGroupAlive({ ...handle, marker: { name: 'MARK', value: 'theirs' } })).toBe(true);
  });

  it('stops what is left of a group whose leader died when the members carry the marker', async () => {
    const handle = await startProcessGroup({ command: '/bin/sh', args: ['-c', 'sleep 300 & exec sleep 300'], env: { ...process.env, MARK: 'ours' }, logPath: path.join(dir, 'b.log') });
    cleanups.push(() => killGroup(handle.pid));
    await waitFor(async () => groupMembers(handle.pid).length === 2);
    const marked = { ...handle, marker: { name: 'MARK', value: 'ours' } };
    process.kill(handle.pid, 'SIGKILL');
    await waitUntilGone([handle.pid]);
    expect(isLeaderAlive(marked)).toBe(false);
    expect(isGroupAlive(marked)).toBe(true);
    await stopProcessGroup(marked, 2000);
    expect(isGroupAlive(marked)).toBe(false);
  });

  it("once the leader is gone, knows a member without the variable (Ray's title written over its environment) by a file it holds open in the node's directory", async () => {
    const own = await mkdtemp(path.join(dir, 'own-'));
    await writeFile(path.join(own, 'held'), '');
    // `env -i` leaves the member no environment at all, as Ray's setproctitle does to ray::DashboardAgent.
    const handle = await startProcessGroup({ command: '/bin/sh', args: ['-c', `env -i sleep 300 3<"${own}/held" & exec sleep 300`], env: { ...process.env, MARK: 'ours' }, logPath: path.join(dir, 'h.log') });
    cleanups.push(() => killGroup(handle.pid));
    await waitFor(async () => groupMembers(handle.pid).length === 2);
    process.kill(handle.pid, 'SIGKILL');
    await waitUntilGone([handle.pid]);
    const marker = { name: 'MARK', value: 'ours' };
    expect(isGroupAlive({ ...handle, marker })).toBe(false);
    expect(isGroupAlive({ ...handle, marker: { ...marker, openDir: dir.replace(/\/?$/, '/elsewhere') } })).toBe(false);
    // A file under a directory whose name merely starts the same does not count either.
    expect(isGroupAlive({ ...handle, marker: { ...marker, openDir: own.slice(0, -1) } })).toBe(false);
    const known = { ...handle, marker: { ...marker, openDir: own } };
    expect(isGroupAlive(known)).toBe(true);
    await stopProcessGroup(known, 2000);
    expect(groupMembers(handle.pid)).toEqual([]);
  });

  it('a child of this process known by pid alone is stopped with its whole group, even once the leader has exited', async () => {
    const ready = path.join(dir, 'g.ready');
    const handle = await startProcessGroup({ command: '/bin/sh', args: ['-c', `sleep 300 & echo > ${ready}; wait`], env: process.env, logPath: path.join(dir, 'g.log') });
    cleanups.push(() => killGroup(handle.pid));
    await waitFor(async () => (await readFile(ready, 'utf8').catch(() => undefined)) !== undefined);
    const byPid: ProcessHandle = { pid: handle.pid, startTicks: undefined };
    expect(isLeaderAlive(byPid)).toBe(true);
    // The leader exits on SIGTERM at once; its child in the group does not, and must still be stopped.
    await stopProcessGroup(byPid, 300);
    expect(groupMembers(handle.pid)).toEqual([]);
  });

  it('holds a gated process until released, then runs the command under the same pid', async () => {
    const out = path.join(dir, 'gated.out');
    const gated = await startGatedProcessGroup({ command: '/bin/sh', args: ['-c', `echo ran > ${out}; exec sleep 300`], env: process.env, logPath: path.join(dir, 'c.log') });
    cleanups.push(() => killGroup(gated.handle.pid));
    expect(isLeaderAlive(gated.handle)).toBe(true);
    await expect(readFile(out, 'utf8')).rejects.toThrow();
    await gated.release();
    await waitFor(async () => (await readFile(out, 'utf8').catch(() => '')) === 'ran\n');
    // Same pid, same start time: the exec'd command is the recorded process.
    await waitFor(async () => (await readFile(`/proc/${gated.handle.pid}/cmdline`, 'utf8')) === 'sleep\u0000300\u0000');
    expect(isLeaderAlive(gated.handle)).toBe(true);
    await stopProcessGroup(gated.handle, 2000);
  });

  it('a cancelled gated process never runs its command', async () => {
    const out = path.join(dir, 'cancelled.out');
    const gated = await startGatedProcessGroup({ command: '/bin/sh', args: ['-c', `echo ran > ${out}`], env: process.env, logPath: path.join(dir, 'd.log') });
    await gated.cancel();
    expect(isGroupAlive(gated.handle)).toBe(false);
    await expect(readFile(out, 'utf8')).rejects.toThrow();
  });

  it('refuses a command that cannot run before anything starts', async () => {
    await expect(startGatedProcessGroup({ command: path.join(dir, 'no-such-ray'), args: [], env: process.env, logPath: path.join(dir, 'e.log') })).rejects.toMatchObject({
      code: 'NODE_START_FAILED',
    });
  });

  it('an abort during the grace period ends the wait and leaves the group stopping', async () => {
    const ready = path.join(dir, 'f.ready');
    const handle = await startProcessGroup({ command: '/bin/sh', args: ['-c', `trap '' TERM; sleep 300 & echo > ${ready}; wait`], env: process.env, logPath: path.join(dir, 'f.log') });
    cleanups.push(() => killGroup(handle.pid));
    await waitFor(async () => (await readFile(ready, 'utf8').catch(() => undefined)) !== undefined);
    const controller = new AbortController();
    const stopping = stopProcessGroup(handle, 60_000, controller.signal);
    setTimeout(() => controller.abort(), 200);
    await expect(stopping).rejects.toThrow();
    expect(isLeaderAlive(handle)).toBe(true);
    await stopProcessGroup(handle, 0);
    expect(isGroupAlive(handle)).toBe(false);
  });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
