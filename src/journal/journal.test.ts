import { execFileSync } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { nodeOf } from './event.js';
import { Journal } from './journal.js';

const dirs: string[] = [];

async function newJournal(): Promise<Journal> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-journal-'));
  dirs.push(dir);
  return new Journal(path.join(dir, 'journal.jsonl'), 'ray');
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** A launch event; the journal only passes it through. */
function launch(node: string): Parameters<Journal['append']>[0] {
  return { type: 'launch', node, group: 'worker', reason: 'test', cpus: 1, gpus: 0 };
}

/** Appends text without its newline from a separate process, as a writer killed mid-line leaves it. */
function tearFromAnotherProcess(filePath: string, text: string): void {
  execFileSync(process.execPath, ['-e', 'require("node:fs").appendFileSync(process.argv[1], process.argv[2])', filePath, text]);
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

  it('heals a line another process tore while this long-lived journal was open, on every append', async () => {
    const journal = await newJournal();
    await journal.append(launch('ray-worker-1'));
    // Another writer (a second rayfleet, the watcher) dies mid-write, after this instance has appended already.
    tearFromAnotherProcess(journal.filePath, '{"v":1,"time":"2026-01-01T00:0');
    await journal.append(launch('ray-worker-2'));
    tearFromAnotherProcess(journal.filePath, '{"v":1,"type":"launch-fai');
    await journal.append(launch('ray-worker-3'));
    await journal.append(launch('ray-worker-4'));
    const { events, skippedLines } = await journal.read();
    expect(events.map(nodeOf)).toEqual(['ray-worker-1', 'ray-worker-2', 'ray-worker-3', 'ray-worker-4']);
    expect(skippedLines).toEqual([2, 4]);
  });

  it('heals in the same single write as the event, and makes a missing directory', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-journal-'));
    dirs.push(dir);
    const journal = new Journal(path.join(dir, 'state', 'deeper', 'journal.jsonl'), 'ray');
    await journal.append(launch('ray-worker-1'));
    await appendFile(journal.filePath, '{"torn":');
    const probe = await open(journal.filePath, 'r');
    const write = vi.spyOn(Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => unknown }, 'write');
    await probe.close();
    await journal.append(launch('ray-worker-2'));
    expect(write).toHaveBeenCalledTimes(1);
    const [written] = write.mock.calls[0] ?? [];
    expect(String(written)).toMatch(/^\n\{"v":1,.*"ray-worker-2".*\}\n$/);
    expect((await readFile(journal.filePath, 'utf8')).split('\n').slice(1)).toEqual(['{"torn":', expect.stringContaining('ray-worker-2'), '']);
  });

  it('writes the events appended while it writes together in the next write, in the order asked', async () => {
    const journal = await newJournal();
    await journal.append(launch('ray-worker-0'));
    const probe = await open(journal.filePath, 'r');
    const write = vi.spyOn(Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => unknown }, 'write');
    await probe.close();
    // As the launcher journals a group's launches: all at once, each awaited by its own caller.
    const nodes = Array.from({ length: 20 }, (_, index) => `ray-worker-${index + 1}`);
    const appended = await Promise.all(nodes.map((node) => journal.append(launch(node))));
    expect(appended.map(nodeOf)).toEqual(nodes);
    expect(write).toHaveBeenCalledTimes(2);
    expect((await journal.read()).events.map(nodeOf)).toEqual(['ray-worker-0', ...nodes]);
  });

  it('fails each append of a write that failed, and writes the next ones', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-journal-'));
    dirs.push(dir);
    // A directory where the file should be: opening it to append fails (EISDIR).
    const journal = new Journal(path.join(dir, 'journal.jsonl'), 'ray');
    await mkdir(journal.filePath);
    const results = await Promise.allSettled([journal.append(launch('ray-worker-1')), journal.append(launch('ray-worker-2'))]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    await rm(journal.filePath, { recursive: true });
    await journal.append(launch('ray-worker-3'));
    expect((await journal.read()).events.map(nodeOf)).toEqual(['ray-worker-3']);
  });

  it('reports lines that hold no event by number', async () => {
    const journal = await newJournal();
    await writeFile(journal.filePath, 'not json\n');
    await journal.append({ type: 'launch', node: 'ray-worker-1', group: 'worker', reason: 'up', cpus: 1, gpus: 0 });
    expect(await journal.read()).toMatchObject({ skippedLines: [1], events: [{ node: 'ray-worker-1' }] });
  });

});
