import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { currentBootId, readProcStat } from './proc-stat.js';
import { currentIdentity, isSameProcess } from './process-identity.js';

describe('process identity', () => {
  const children: number[] = [];
  afterEach(() => {
    for (const pid of children.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });

  function startSleep(): number {
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(child.pid ?? -1);
    return child.pid ?? -1;
  }

  it('names a live process by pid, start time and boot id', () => {
    const pid = startSleep();
    const identity = currentIdentity(pid);
    expect(identity).toEqual({ pid, startTicks: readProcStat(pid)?.startTicks, bootId: currentBootId() });
    expect(currentBootId()).toMatch(/^[0-9a-f-]{36}$/);
    expect(isSameProcess(identity!)).toBe(true);
  });

  it('a live process with a different start time is not the recorded one (a reused pid)', () => {
    const pid = startSleep();
    const identity = currentIdentity(pid)!;
    expect(isSameProcess({ ...identity, startTicks: identity.startTicks - 1 })).toBe(false);
    expect(isSameProcess({ ...identity, startTicks: identity.startTicks + 1 })).toBe(false);
  });

  it('a live process with the same pid and start time in another boot is not the recorded one (a rebooted machine)', () => {
    const pid = startSleep();
    const identity = currentIdentity(pid)!;
    expect(isSameProcess({ ...identity, bootId: '00000000-0000-0000-0000-000000000000' })).toBe(false);
  });

  it('a record written before boot ids were kept is accepted on pid and start time', () => {
    const pid = startSleep();
    const { startTicks } = currentIdentity(pid)!;
    expect(isSameProcess({ pid, startTicks })).toBe(true);
    expect(isSameProcess({ pid, startTicks: startTicks + 1 })).toBe(false);
  });

  it('a record without a start time proves nothing', () => {
    expect(isSameProcess({ pid: startSleep() })).toBe(false);
  });

  it('an exited process (a zombie, then reaped) is gone', async () => {
    const child = spawn('sh', ['-c', 'exit 0'], { stdio: 'ignore' });
    const pid = child.pid ?? -1;
    const identity = { pid, startTicks: readProcStat(pid)?.startTicks ?? 0, bootId: currentBootId() };
    await new Promise((resolve) => child.once('exit', resolve));
    expect(currentIdentity(pid)).toBeUndefined();
    expect(isSameProcess(identity)).toBe(false);
  });

  it('no process, no identity', () => {
    expect(currentIdentity(0)).toBeUndefined();
    expect(currentIdentity(-5)).toBeUndefined();
    expect(currentIdentity(2 ** 31 - 1)).toBeUndefined();
  });

  it('reads the start time from after the last parenthesis of the command name', () => {
    const stat = readProcStat(process.pid)!;
    expect(stat.ppid).toBe(process.ppid);
    expect(stat.pgid).toBeGreaterThan(0);
    expect(stat.startTicks).toBeGreaterThan(0);
  });
});
