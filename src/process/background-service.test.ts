import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { isRunning, startForeignGroup } from '../../test/support/processes.js';
import { pollUntil } from '../wait/poll-until.js';
import { stopBackgroundService } from './background-service.js';
import { currentIdentity } from './process-identity.js';

describe('stopping a background service', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  it('ends one that ignores SIGTERM with SIGKILL after the grace, and returns once it is gone', async () => {
    // A shell that traps SIGTERM and says so once the trap is set: only SIGKILL ends it.
    const stubborn = spawn('sh', ['-c', 'trap "" TERM; echo trapped; while :; do sleep 0.05; done'], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanups.push(() => stubborn.kill('SIGKILL'));
    await new Promise((resolve) => stubborn.stdout.once('data', resolve));
    const identity = currentIdentity(stubborn.pid ?? -1)!;
    const exited = new Promise<NodeJS.Signals | null>((resolve) => stubborn.once('exit', (_code, signal) => resolve(signal)));
    expect(await stopBackgroundService(identity, { what: 'the stubborn one', graceMs: 300 })).toBe(true);
    // Gone when it returns (reaped or a zombie awaiting its parent, never still running).
    expect(isRunning(identity.pid)).toBe(false);
    expect(await exited).toBe('SIGKILL');
  });

  it('never signals a live process that now has the recorded pid, and says it was gone', async () => {
    const group = await startForeignGroup();
    cleanups.push(group.kill);
    const identity = currentIdentity(group.pid)!;
    expect(await stopBackgroundService({ ...identity, startTicks: identity.startTicks - 5 }, { what: 'the old one', graceMs: 300 })).toBe(false);
    expect(await stopBackgroundService({ ...identity, bootId: 'before-the-reboot' }, { what: 'the old one', graceMs: 300 })).toBe(false);
    expect(isRunning(group.pid)).toBe(true);
  });

  it('stops one that ends on SIGTERM without waiting for the grace', async () => {
    const polite = spawn('sleep', ['300'], { stdio: 'ignore' });
    cleanups.push(() => polite.kill('SIGKILL'));
    await pollUntil(async () => (currentIdentity(polite.pid ?? -1) === undefined ? undefined : true), { timeoutMs: 5_000, intervalMs: 10, describe: () => 'sleep to run' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => polite.once('exit', (_code, signal) => resolve(signal)));
    expect(await stopBackgroundService(currentIdentity(polite.pid ?? -1)!, { what: 'sleep', graceMs: 60_000 })).toBe(true);
    expect(await exited).toBe('SIGTERM');
  });
});
