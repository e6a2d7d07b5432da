// End to end: Ray Serve on a real local cluster through the built CLI: per-application deploys, delete, HTTP to each route.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServeStatus } from '../src/fleet/fleet-serve.js';
import { findFreePorts } from '../src/net/ports.js';
import { createSandbox, type Sandbox } from './support/run-cli.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../examples');

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, text: await response.text() };
}

describe('Serve on a local cluster', () => {
  let sandbox: Sandbox;
  let spec: string;
  let servePort: number;
  const cli = (args: string[]) => sandbox.run([...args, '--config', spec]);

  beforeAll(async () => {
    sandbox = await createSandbox();
    const [gcsPort, dashboardPort, clientPort, serve] = (await findFreePorts(4)) as [number, number, number, number];
    servePort = serve;
    spec = path.join(sandbox.dir, 'serve.yaml');
    // The head alone, with CPUs for the replicas; the watcher off, as it is not what this tests.
    await writeFile(
      spec,
      [
        'name: rfserve',
        `head: { cpus: 2, objectStoreMemory: 100MB, gcsPort: ${gcsPort}, dashboardPort: ${dashboardPort}, clientPort: ${clientPort}, servePort: ${servePort} }`,
        'workerGroups:',
        '  - { name: worker, cpus: 1, objectStoreMemory: 100MB, min: 0, max: 2 }',
        'watcher: { enabled: false }',
        '',
      ].join('\n'),
    );
    const up = await cli(['up']);
    expect(up.exitCode, up.stderr).toBe(0);
  });

  afterAll(async () => {
    await cli(['down']);
  });

  it('keeps both applications of two separate deploys RUNNING, each answering on its route', async () => {
    // The example as a new user deploys it: its working_dir is a local folder, uploaded by rayfleet.
    const hello = await cli(['serve', 'deploy', path.join(EXAMPLES, 'serve', 'hello.yaml')]);
    expect(hello.exitCode, hello.stderr).toBe(0);
    expect(hello.stdout).toMatch(/uploaded \S+\/examples\/serve as gcs:\/\/_ray_pkg_[0-9a-f]{40}\.zip/);
    expect(hello.stdout).toMatch(new RegExp(`hello +RUNNING +/hello +http://127\\.0\\.0\\.1:${servePort}/hello`));

    const second = path.join(sandbox.dir, 'bonjour.yaml');
    await writeFile(
      second,
      [
        'applications:',
        '  - name: bonjour',
        '    route_prefix: /bonjour',
        '    import_path: hello:build',
        '    args: { greeting: bonjour }',
        `    runtime_env: { working_dir: ${JSON.stringify(path.join(EXAMPLES, 'serve'))} }`,
        '    deployments: [{ name: Hello, ray_actor_options: { num_cpus: 0.5 } }]',
        '',
      ].join('\n'),
    );
    const bonjour = await cli(['serve', 'deploy', second]);
    expect(bonjour.exitCode, bonjour.stderr).toBe(0);

    const status = await sandbox.json<ServeStatus>(['serve', 'status', '--config', spec]);
    expect(status.applications.map((app) => [app.name, app.status, app.url])).toEqual([
      ['hello', 'RUNNING', `http://127.0.0.1:${servePort}/hello`],
      ['bonjour', 'RUNNING', `http://127.0.0.1:${servePort}/bonjour`],
    ]);
    expect(status.applications.map((app) => app.deployments[0]?.replicas)).toEqual([{ RUNNING: 1 }, { RUNNING: 1 }]);
    expect(await get(`http://127.0.0.1:${servePort}/hello?name=you`)).toEqual({ status: 200, text: 'hello, you' });
    expect(await get(`http://127.0.0.1:${servePort}/bonjour?name=toi`)).toEqual({ status: 200, text: 'bonjour, toi' });
  });

  it('deletes one application and leaves the other serving', async () => {
    const deleted = await cli(['serve', 'delete', 'hello']);
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    const status = await sandbox.json<ServeStatus>(['serve', 'status', '--config', spec]);
    expect(status.applications.map((app) => [app.name, app.status])).toEqual([['bonjour', 'RUNNING']]);
    expect(await get(`http://127.0.0.1:${servePort}/bonjour?name=encore`)).toEqual({ status: 200, text: 'bonjour, encore' });
    expect((await get(`http://127.0.0.1:${servePort}/hello`)).status).toBe(404);
    const again = await cli(['serve', 'delete', 'hello']);
    expect(again.exitCode).toBe(3);
    expect(again.stderr).toMatch(/SERVE_APP_NOT_FOUND.*hello/);
  });

  it('journals each deploy and delete', async () => {
    const events = await sandbox.json<Array<{ type: string; apps?: string[] }>>(['events', '--config', spec]);
    expect(events.filter((event) => event.type.startsWith('serve-')).map((event) => [event.type, event.apps])).toEqual([
      ['serve-deployed', ['hello']],
      ['serve-deployed', ['bonjour']],
      ['serve-deleted', ['hello']],
    ]);
  });

  it('runs the example job as it is, on this cluster with CPUs', async () => {
    const job = await sandbox.run(['job', 'submit', '--config', spec, '--working-dir', path.join(EXAMPLES, 'jobs'), '--', 'python', 'hello_job.py']);
    expect(job.exitCode, job.stderr).toBe(0);
    expect(job.stdout).toMatch(/^sum of squares of 0\.\.19: 2470$/m);
    expect(job.stdout).toMatch(/^ran on: rfserve-head$/m);
    expect(job.stdout).toMatch(/^working dir files: \.gitignore, hello_job\.py$/m);
  });
});
