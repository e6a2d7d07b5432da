import { describe, expect, it } from 'vitest';
import { runScript } from '../../test/support/processes.js';
import { thrownBy } from '../../test/support/caught.js';
import { FAILPOINT_NAMES, parseFailpoints } from './failpoints.js';

describe('failpoints', () => {
  it('arms the named points, comma-separated, and none when unset', () => {
    expect([...parseFailpoints('local.after-claim, lock.mid-takeover')]).toEqual(['local.after-claim', 'lock.mid-takeover']);
    expect(parseFailpoints(undefined).size).toBe(0);
    expect(parseFailpoints('').size).toBe(0);
  });

  it('refuses a name that is no point, listing the points', () => {
    const error = thrownBy(() => parseFailpoints('local.after-clam'));
    expect(error).toMatchObject({ code: 'USAGE', message: expect.stringContaining('local.after-clam') });
    expect((error as { details: string }).details).toContain(FAILPOINT_NAMES.join(', '));
  });

  it('kills the process with SIGKILL at an armed point, and passes the others by', async () => {
    const killed = await runScript('failpoint-child.ts', ['local.after-spawn'], { RAYFLEET_FAILPOINTS: 'local.after-claim,local.after-spawn' });
    expect(killed).toMatchObject({ signal: 'SIGKILL', stdout: 'before\n' });
    const passed = await runScript('failpoint-child.ts', ['local.after-record'], { RAYFLEET_FAILPOINTS: 'local.after-spawn' });
    expect(passed).toMatchObject({ code: 0, stdout: 'before\nafter\n' });
    const unarmed = await runScript('failpoint-child.ts', ['local.after-record'], { RAYFLEET_FAILPOINTS: '' });
    expect(unarmed).toMatchObject({ code: 0, stdout: 'before\nafter\n' });
  }, 60_000);
});
