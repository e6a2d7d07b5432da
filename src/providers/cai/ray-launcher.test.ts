// The node launcher (launchers/ray_launcher.py) as a CML application of the emulator, with a stand-in venv: what Ray
// is given of the application's environment, and how the watcher beside it is kept running.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON_RUNTIME, TEST_API_KEY, emulatedWorkspace, type EmulatedWorkspace } from '../../../test/cml-emulator/workspace-fixture.js';
import { parseJournal } from '../../journal/journal.js';
import { pollUntil } from '../../wait/poll-until.js';
import type { CmlClient } from './cml-client.js';
import { LAUNCHER_SCRIPT, PROJECT_HOME } from './project-layout.js';

const CLUSTER = 'rl';
const PROJECT_SECRET = 'db-password-31f7a9';

/** `ray start --block` as far as the launcher can tell: it records its environment, says Ray is up, and blocks. */
const FAKE_RAY = `#!/usr/bin/env python3
import json, os, signal, sys
with open(os.path.join(os.environ["HOME"], "ray-env.json"), "w") as out:
    json.dump(dict(os.environ), out)
print("Ray runtime started.", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.pause()
`;

/** A watcher that dies at once, every time: one line per start, saying whether it had the API key. */
const FAKE_NODE = `#!/usr/bin/env python3
import os, sys
with open(os.path.join(os.environ["HOME"], "watcher-runs.txt"), "a") as out:
    out.write("key=%s home=%s\\n" % (os.environ.get("CDSW_APIV2_KEY") == "${TEST_API_KEY}", os.environ.get("RAYFLEET_HOME", "")))
sys.exit(3)
`;

let workspace: EmulatedWorkspace;
let client: CmlClient;
let projectDirectory: string;
let applicationId: string;
const journalPath = (): string => join(projectDirectory, PROJECT_HOME, 'clusters', CLUSTER, 'journal.jsonl');

beforeAll(async () => {
  workspace = await emulatedWorkspace();
  client = workspace.client();
  const project = await client.createProject({ name: 'launcher', environment: { DB_PASSWORD: PROJECT_SECRET, WANTED_BY_TASKS: 'yes' } });
  projectDirectory = workspace.emulator.store.projects.get(project.id)?.directory ?? '';
  await client.uploadFile(project.id, LAUNCHER_SCRIPT, readFileSync(new URL('../../../launchers/ray_launcher.py', import.meta.url)));
  const bin = join(projectDirectory, '.venv', 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'ray'), FAKE_RAY, { mode: 0o755 });
  writeFileSync(join(bin, 'node'), FAKE_NODE, { mode: 0o755 });
  writeFileSync(join(projectDirectory, '.rayfleet', 'rayfleet.mjs'), '');
  mkdirSync(join(projectDirectory, PROJECT_HOME, 'clusters', CLUSTER), { recursive: true });
  writeFileSync(join(projectDirectory, PROJECT_HOME, 'clusters', CLUSTER, 'cluster.json'), '{}');
  // A line another writer tore: the launcher's first event must not be glued onto it.
  writeFileSync(journalPath(), '{"v":1,"time":"2026-01-01T00:00:00.000Z","ty');
  const created = await client.createApplication(project.id, {
    name: `${CLUSTER}-head`,
    subdomain: `${CLUSTER}-head`,
    script: LAUNCHER_SCRIPT,
    runtime_identifier: PYTHON_RUNTIME,
    environment: {
      RAYFLEET_ROLE: 'head',
      RAYFLEET_CLUSTER: CLUSTER,
      RAYFLEET_NODE: `${CLUSTER}-head`,
      RAYFLEET_WATCHER: '1',
      RAYFLEET_WATCHER_RESTART_S: '0.1',
      RAYFLEET_RAY_ENV: 'WANTED_BY_TASKS',
      RAY_CLOUD_INSTANCE_ID: `${CLUSTER}-head`,
      RAY_NODE_TYPE_NAME: 'head',
      RAY_AUTH_TOKEN_PATH: `${PROJECT_HOME}/clusters/${CLUSTER}/auth_token`,
    },
  });
  applicationId = created.id;
  await pollUntil(async () => ((await client.getApplication(project.id, created.id)).status === 'APPLICATION_RUNNING' ? true : undefined), {
    timeoutMs: 15_000,
    intervalMs: 50,
    describe: () => `the launcher to serve (log: ${workspace.emulator.readLog(created.id)})`,
  });
});

afterAll(async () => {
  await workspace.close();
});

describe('the launcher of a node application', () => {
  it("gives ray start an allow-list of the application's environment: no API key, no project secret", () => {
    const rayEnv = JSON.parse(readFileSync(join(projectDirectory, 'ray-env.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(rayEnv).filter((name) => name.startsWith('CDSW_'))).toEqual([]);
    expect(rayEnv.DB_PASSWORD).toBeUndefined();
    expect(JSON.stringify(rayEnv)).not.toContain(TEST_API_KEY);
    expect(JSON.stringify(rayEnv)).not.toContain(PROJECT_SECRET);
    // What the node needs is there: its identity, the token's absolute path, the venv first on PATH, and what the user let through.
    expect(rayEnv).toMatchObject({
      RAY_CLOUD_INSTANCE_ID: `${CLUSTER}-head`,
      RAY_NODE_TYPE_NAME: 'head',
      RAY_AUTH_TOKEN_PATH: join(projectDirectory, PROJECT_HOME, 'clusters', CLUSTER, 'auth_token'),
      HOME: projectDirectory,
      VIRTUAL_ENV: join(projectDirectory, '.venv'),
      WANTED_BY_TASKS: 'yes',
    });
    expect(rayEnv.PATH?.split(':')[0]).toBe(join(projectDirectory, '.venv', 'bin'));
  });

  it('starts the watcher again each time it exits, with the API key, doubling the delay, each restart journaled', async () => {
    const lines = await pollUntil(
      async () => {
        const text = readFileSync(journalPath(), 'utf8');
        return parseJournal(text).events.length >= 4 ? text.split('\n').slice(1, 5) : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 50, describe: () => `4 watcher restarts in ${journalPath()} (log: ${workspace.emulator.readLog(applicationId)})` },
    );
    // Each line is an event of the journal's own format, with the numbers of the restart beside it.
    const { events, skippedLines } = parseJournal(lines.join('\n'));
    expect(skippedLines).toEqual([]);
    expect(events.map((event) => [event.type, event.cluster, 'source' in event ? event.source : undefined])).toEqual(Array(4).fill(['watcher', CLUSTER, 'launcher']));
    const restarts = lines.map((line) => JSON.parse(line) as { exitCode: number; restarts: number; delayS: number; pid: number; reason: string; time: string });
    expect(restarts.map((restart) => [restart.exitCode, restart.restarts, restart.delayS])).toEqual([
      [3, 1, 0.1],
      [3, 2, 0.2],
      [3, 3, 0.4],
      [3, 4, 0.8],
    ]);
    expect(new Set(restarts.map((restart) => restart.pid)).size).toBe(4);
    expect(restarts[0]?.reason).toMatch(new RegExp(`^the watcher in ${CLUSTER}-head exited with code 3 after \\d+ s; starting it again in 0\\.1 s \\(restart 1\\)$`));
    expect(Date.parse(restarts[0]?.time ?? '')).toBeGreaterThan(Date.now() - 60_000);
    // The torn line stays one unreadable line of its own: the launcher's first event was not glued onto it.
    expect(parseJournal(readFileSync(journalPath(), 'utf8')).skippedLines).toEqual([1]);
    const runs = readFileSync(join(projectDirectory, 'watcher-runs.txt'), 'utf8').trim().split('\n');
    expect(runs.length).toBeGreaterThanOrEqual(4);
    expect(new Set(runs)).toEqual(new Set([`key=True home=${join(projectDirectory, PROJECT_HOME)}`]));
  });
});
