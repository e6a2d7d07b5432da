// End to end with real Ray: a local node runs its work with the cluster's Python, so a job's bare `python` can import ray.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePorts } from '../src/net/ports.js';
import { LocalProvider } from '../src/providers/local/local-provider.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { processesOfNodes } from './support/processes.js';

const HEAD = 'rfenv-head';

describe('a local node’s environment', () => {
  let dir: string;
  let provider: LocalProvider;
  let dashboardUrl: string;
  const ray = path.join(path.dirname(process.env.RAYFLEET_TEST_PYTHON ?? ''), 'ray');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rfenv-'));
    const [gcsPort, dashboardPort, clientPort] = (await findFreePorts(3)) as [number, number, number];
    const head = { gcsPort, dashboardPort, clientPort };
    dashboardUrl = `http://127.0.0.1:${head.dashboardPort}`;
    provider = new LocalProvider({ stateDir: dir, rayCommand: async () => ray, head, tempDir: path.join(dir, 't'), stopGraceMs: 20_000 });
    // Without a mode set, Ray 2.60 turns token auth on by itself when ~/.ray/auth_token exists (any local ray.init()
    // leaves one): this head and the job CLI below say `disabled`, so the machine's home cannot change what is tested.
    await provider.launch({ name: HEAD, role: 'head', group: 'head', index: 0, resources: { cpus: 1, gpus: 0, custom: {} }, env: { RAY_CLOUD_INSTANCE_ID: HEAD, RAY_NODE_TYPE_NAME: 'head', RAY_AUTH_MODE: 'disabled' } });
    await pollUntil(async () => ((await fetch(`${dashboardUrl}/api/version`).catch(() => undefined))?.ok === true ? true : undefined), {
      timeoutMs: 120_000,
      intervalMs: 500,
      describe: () => `the head's dashboard at ${dashboardUrl}`,
    });
  });

  afterAll(async () => {
    await provider?.terminate(HEAD);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('a job whose entrypoint is a bare `python` imports ray from the venv', async () => {
    // The submitting shell has no venv on its PATH: only the node's own environment can supply it.
    const bare = (process.env.PATH ?? '').split(':').filter((entry) => !entry.startsWith(path.dirname(ray))).join(':');
    const job = await execa(ray, ['job', 'submit', '--address', dashboardUrl, '--', 'python', '-c', 'import ray, os, sys; print("imported", ray.__version__, sys.prefix, os.environ.get("VIRTUAL_ENV"))'], {
      env: { PATH: bare, RAY_AUTH_MODE: 'disabled' },
      reject: false,
    });
    const venv = path.dirname(path.dirname(ray));
    expect(job.stdout, job.stderr).toContain(`imported 2.`);
    expect(job.stdout).toContain(`${venv} ${venv}`);
  });

  it('leaves no process behind once terminated', async () => {
    await provider.terminate(HEAD);
    expect(processesOfNodes([HEAD])).toEqual([]);
  });
});
