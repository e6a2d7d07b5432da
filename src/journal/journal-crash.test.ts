import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runScript } from '../../test/support/processes.js';
import { historyFromJournal } from '../watcher/history.js';
import { Journal } from './journal.js';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

describe('a journal writer killed mid-append (failpoint journal.mid-append)', () => {
  it('leaves one torn line; the next writer ends it in its own write, and back-off is rebuilt from every whole event', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rf-journal-crash-'));
    dirs.push(dir);
    const file = path.join(dir, 'journal.jsonl');
    expect((await runScript('journal-child.ts', [file, 'ray-worker-1'])).code).toBe(0);
    const killed = await runScript('journal-child.ts', [file, 'ray-worker-2'], { RAYFLEET_FAILPOINTS: 'journal.mid-append' });
    expect(killed.signal).toBe('SIGKILL');
    expect((await readFile(file, 'utf8')).endsWith('\n')).toBe(false);
    expect((await runScript('journal-child.ts', [file, 'ray-worker-3'])).code).toBe(0);
    const { events, skippedLines } = await new Journal(file, 'ray').read();
    expect(events.map((event) => (event.type === 'launch-failed' ? event.node : ''))).toEqual(['ray-worker-1', 'ray-worker-3']);
    expect(skippedLines).toEqual([2]);
    // Two whole failed launches in a row: the group backs off 10 s from the last.
    const history = historyFromJournal(events);
    expect(history.backoffUntilMs.worker).toBe(Date.parse(events[1]?.time ?? '') + 10_000);
  });
});
