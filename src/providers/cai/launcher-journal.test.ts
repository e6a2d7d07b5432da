// The CML launcher's journal lines (launchers/ray_launcher.py, Python) pinned to the journal's own schema: every field
// it writes is declared in journal/event.ts, with the type it writes.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJournal } from '../../journal/journal.js';
import { packageFile } from '../../package-files.js';
import { PROJECT_HOME } from './project-layout.js';

const CLUSTER = 'lj';
const RESTARTS = 3;
const HARNESS = join(import.meta.dirname, '../../../test/fixtures/launcher/watcher-restarts.py');

describe("the launcher's journal lines", () => {
  let home: string;
  let text: string;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'rf-launcher-journal-'));
    const run = await execa('python3', [HARNESS, packageFile('launchers/ray_launcher.py'), String(RESTARTS)], {
      env: { PATH: process.env.PATH ?? '', HOME: home, RAYFLEET_CLUSTER: CLUSTER, RAYFLEET_NODE: `${CLUSTER}-head`, RAYFLEET_WATCHER_RESTART_S: '0.1' },
      extendEnv: false,
      reject: false,
      timeout: 20_000,
    });
    expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(0);
    text = await readFile(join(home, PROJECT_HOME, 'clusters', CLUSTER, 'journal.jsonl'), 'utf8');
  });

  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('are events of the journal, read back whole: no field undeclared, none of another type', () => {
    const written = text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(written.length).toBeGreaterThanOrEqual(RESTARTS);
    const { events, skippedLines } = parseJournal(text);
    // A mistyped field makes its line unreadable; an undeclared one is dropped on reading (zod strips what it does not know).
    expect(skippedLines).toEqual([]);
    expect(events).toEqual(written);
  });

  it("are the watcher's restarts, with the numbers the journal's type gives them", () => {
    const [first] = parseJournal(text).events;
    expect(first).toMatchObject({ type: 'watcher', cluster: CLUSTER, source: 'launcher', exitCode: 3, restarts: 1, delayS: 0.1 });
  });
});
