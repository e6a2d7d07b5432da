// End to end: Ray Serve on a real local cluster through the built CLI: per-application deploys, delete, HTTP to each route.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServeStatus } from '../src/fleet/fleet-serve.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../examples');

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, text: await response.text() };
}

describe('Serve on a local cluster', () => {
  let cluster: TestCluster;
  let servePort: number;

  beforeAll(async () => {
    // The head alone, with CPUs for the replicas; the watcher off, as it is not what this tests.
    cluster = await createTestCluster({ name: 'rfserve', workers: 0, max: 2, headCpus: 2, ports: 'free+serve' });
    servePort = cluster.ports?.servePort ?? 0;
    await cluster.up();
  });

  afterAll(async () => {
    await cluster.down();
  });

  it('keeps both applications of two separate deploys RUNNING, each answering on its route', async () => {
    // The example as a new user deploys it: its working_dir is a local folder, uploaded by rayfleet.
    const hello = await cluster.run(['serve', 'deploy', path.join(EXAMPLES, 'serve', 'hello.yaml')]);
    expect(hello.exitCode, hello.stderr).toBe(0);
    expect(hello.stdout).toMatch(/uploaded \S+\/examples\/serve as gcs:\/\/_ray_pkg_[0-9a-f]{40}\.zip/);
    expect(hello.stdout).toMatch(new RegExp(`hello +RUNNING +/hello +http://127\\.0\\.0\\.1:${servePort}/hello`));

    const second = path.join(cluster.sandbox.dir, 'bonjour.yaml');
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
    const bonjour = await cluster.run(['serve', 'deploy', second]);
    expect(bonjour.exitCode, bonjour.stderr).toBe(0);

    const status = await cluster.json<ServeStatus>(['serve', 'status']);
    expect(status.applications.map((app) => [app.name, app.status, app.url])).toEqual([
      ['hello', 'RUNNING', `http://127.0.0.1:${servePort}/hello`],
      ['bonjour', 'RUNNING', `http://127.0.0.1:${servePort}/bonjour`],
    ]);
    expect(status.applications.map((app) => app.deployments[0]?.replicas)).toEqual([{ RUNNING: 1 }, { RUNNING: 1 }]);
    expect(await get(`http://127.0.0.1:${servePort}/hello?name=you`)).toEqual({ status: 200, text: 'hello, you' });
    expect(await get(`http://127.0.0.1:${servePort}/bonjour?name=toi`)).toEqual({ status: 200, text: 'bonjour, toi' });
  });

  it('deletes one application and leaves the other serving', async () => {
    const deleted = await cluster.run(['serve', 'delete', 'hello']);
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    const status = await cluster.json<ServeStatus>(['serve', 'status']);
    expect(status.applications.map((app) => [app.name, app.status])).toEqual([['bonjour', 'RUNNING']]);
    expect(await get(`http://127.0.0.1:${servePort}/bonjour?name=encore`)).toEqual({ status: 200, text: 'bonjour, encore' });
    expect((await get(`http://127.0.0.1:${servePort}/hello`)).status).toBe(404);
    const again = await cluster.run(['serve', 'delete', 'hello']);
    expect(again.exitCode).toBe(3);
    expect(again.stderr).toMatch(/SERVE_APP_NOT_FOUND.*hello/);
  });

  it('journals each deploy and delete', async () => {
    const events = await cluster.json<Array<{ type: string; apps?: string[] }>>(['events']);
    expect(events.filter((event) => event.type.startsWith('serve-')).map((event) => [event.type, event.apps])).toEqual([
      ['serve-deployed', ['hello']],
      ['serve-deployed', ['bonjour']],
      ['serve-deleted', ['hello']],
    ]);
  });

  it('runs the example job as it is, on this cluster with CPUs', async () => {
    const job = await cluster.run(['job', 'submit', '--working-dir', path.join(EXAMPLES, 'jobs'), '--', 'python', 'hello_job.py']);
    expect(job.exitCode, job.stderr).toBe(0);
    expect(job.stdout).toMatch(/^sum of squares of 0\.\.19: 2470$/m);
    expect(job.stdout).toMatch(/^ran on: rfserve-head$/m);
    expect(job.stdout).toMatch(/^working dir files: \.gitignore, hello_job\.py$/m);
  });
});
