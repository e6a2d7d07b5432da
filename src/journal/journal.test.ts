import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeOf } from './event.js';
import { Journal } from './journal.js';

const dirs: string[] = [];

async function newJournal(): Promise<Journal> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-journal-'));
  dirs.push(dir);
  return new Journal(path.join(dir, 'journal.jsonl'), 'ray');
}

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('Journal', () => {
  it('reads nothing before the first event', async () => {
    expect(await (await newJournal()).read()).toEqual({ events: [], skippedLines: [] });
  });

  it('appends events and reads them back in order with cluster and time', async () => {
    const journal = await newJournal();
    await journal.append({ type: 'launch', node: 'ray-worker-1', group: 'worker', reason: 'up', cpus: 1, gpus: 0 }, new Date('2026-01-01T00:00:00Z'));
    await journal.append({ type: 'drain', node: 'ray-worker-1', group: 'worker', reason: 'remove-worker', idleMs: 61000 }, new Date('2026-01-01T00:01:00Z'));
    const { events } = await journal.read();
    expect(events.map((event) => event.type)).toEqual(['launch', 'drain']);
    expect(events[0]).toMatchObject({ v: 1, cluster: 'ray', node: 'ray-worker-1', time: '2026-01-01T00:00:00.000Z' });
    expect(events[1]).toMatchObject({ idleMs: 61000, numbers: {} });
  });

  it('filters by since and keeps the last N', async () => {
    const journal = await newJournal();
    for (let minute = 0; minute < 5; minute += 1) {
      await journal.append({ type: 'launch', node: `ray-worker-${minute}`, group: 'worker', reason: 'test', cpus: 1, gpus: 0 }, new Date(Date.UTC(2026, 0, 1, 0, minute)));
    }
    expect((await journal.read({ since: new Date(Date.UTC(2026, 0, 1, 0, 3)) })).events.map(nodeOf)).toEqual(['ray-worker-3', 'ray-worker-4']);
    expect((await journal.read({ last: 2 })).events.map(nodeOf)).toEqual(['ray-worker-3', 'ray-worker-4']);
  });

  it('tolerates a line torn by a crash mid-write, and the next writer starts on a fresh line', async () => {
    const journal = await newJournal();
    await journal.append({ type: 'launch', node: 'ray-worker-1', group: 'worker', reason: 'up', cpus: 1, gpus: 0 });
    await appendFile(journal.filePath, '{"v":1,"time":"2026-01-01T00:0');
    expect(await journal.read()).toMatchObject({ skippedLines: [2] });
    expect((await journal.read()).events).toHaveLength(1);
    const afterRestart = new Journal(journal.filePath, 'ray');
    await afterRestart.append({ type: 'terminate', node: 'ray-worker-1', reason: 'down' });
    const { events, skippedLines } = await afterRestart.read();
    expect(events.map((event) => event.type)).toEqual(['launch', 'terminate']);
    expect(skippedLines).toEqual([2]);
  });

  it('reports lines that hold no event by number', async () => {
    const journal = await newJournal();
    await writeFile(journal.filePath, 'not json\n');
    await journal.append({ type: 'launch', node: 'ray-worker-1', group: 'worker', reason: 'up', cpus: 1, gpus: 0 });
    expect(await journal.read()).toMatchObject({ skippedLines: [1], events: [{ node: 'ray-worker-1' }] });
  });

});
