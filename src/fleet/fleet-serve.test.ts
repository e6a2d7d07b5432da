import { DashboardClient } from '../ray/dashboard-client.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rayfleetErrorOf } from '../../test/support/caught.js';
import { StandInDashboard, STAND_IN_TOKEN } from '../../test/support/ray-dashboard-stand-in.js';
import { backendOf } from '../providers/backend-of.js';
import type { ServeApplicationConfig, ServeDeployConfig } from '../ray/serve-client.js';
import { FleetServe, sameConfig } from './fleet-serve.js';
import type { ServeContext, WorkEvent } from './work-context.js';

let api: StandInDashboard;
let baseUrl: string;
let events: WorkEvent[];
let dir: string;

function serve(overrides: Partial<ServeContext> = {}): FleetServe {
  return new FleetServe(
    {
      cluster: 'ray',
      serveHost: backendOf({ type: 'local' }).serveHost,
      dashboard: async () => new DashboardClient({ baseUrl, authToken: STAND_IN_TOKEN }),
      record: async (event) => void events.push(event),
      serveUrl: async () => 'http://127.0.0.1:18000',
      servePort: async () => 18000,
      ...overrides,
    },
    { pollIntervalMs: 2, maxAttempts: 3 },
  );
}

const app = (name: string, extra: Partial<ServeApplicationConfig> = {}): ServeApplicationConfig => ({ name, route_prefix: `/${name}`, import_path: `${name}:app`, ...extra });
const config = (...applications: ServeApplicationConfig[]): ServeDeployConfig => ({ applications });
const puts = (): ServeDeployConfig[] =>
  api.seen.filter((request) => request.method === 'PUT' && request.url === '/api/serve/applications/').map((request) => JSON.parse(request.body.toString()) as ServeDeployConfig);

beforeAll(async () => {
  api = new StandInDashboard();
  baseUrl = await api.start();
});
afterAll(async () => {
  await api.stop();
});
beforeEach(async () => {
  api.apps.clear();
  api.packages.clear();
  api.seen.length = 0;
  api.nextAnswers.length = 0;
  api.serveSettings = undefined;
  api.afterServePut = () => undefined;
  api.refuseNextServePut = undefined;
  api.deployingPolls = 1;
  events = [];
  dir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-serve-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FleetServe.deploy', () => {
  it('keeps the applications already running: two deploys, two applications, both RUNNING', async () => {
    const first = await serve().deploy({ config: config(app('a')), baseDir: dir });
    expect(first.applications.map((summary) => [summary.name, summary.status, summary.url])).toEqual([['a', 'RUNNING', 'http://127.0.0.1:18000/a']]);
    const second = await serve().deploy({ config: config(app('b')), baseDir: dir });
    expect(second.attempts).toBe(1);
    expect(puts().at(-1)?.applications).toEqual([app('a'), app('b')]);
    expect([...api.apps.values()].map((details) => [details.name, details.status])).toEqual([
      ['a', 'RUNNING'],
      ['b', 'RUNNING'],
    ]);
    expect(events).toEqual([
      { type: 'serve-deployed', apps: ['a'], reason: 'serve deploy' },
      { type: 'serve-deployed', apps: ['b'], reason: 'serve deploy' },
    ]);
  });

  it('replaces an application of the same name, leaving the others as they were', async () => {
    await serve().deploy({ config: config(app('a'), app('b', { args: { greeting: 'hi' } })), baseDir: dir });
    await serve().deploy({ config: config(app('b', { args: { greeting: 'hello' } })), baseDir: dir });
    expect(puts().at(-1)?.applications).toEqual([app('a'), app('b', { args: { greeting: 'hello' } })]);
    expect(api.apps.get('b')?.deployed_app_config?.args).toEqual({ greeting: 'hello' });
  });

  it("binds Serve's proxy on the head only, at the cluster's serve port, and says when the file asked otherwise", async () => {
    const result = await serve().deploy({ config: { proxy_location: 'EveryNode', http_options: { port: 8000, request_timeout_s: 30 }, applications: [app('a')] }, baseDir: dir });
    expect(puts()[0]).toMatchObject({ proxy_location: 'HeadOnly', http_options: { host: '127.0.0.1', port: 18000, request_timeout_s: 30 } });
    expect(result.notes).toEqual([
      "http_options.port 8000 is the cluster's serve port 18000 instead (set head.servePort in the spec)",
      "proxy_location EveryNode is HeadOnly instead: the cluster's serve port is the head's",
    ]);
    await serve({ serveHost: backendOf({ type: 'docker' }).serveHost }).deploy({ config: config(app('b')), baseDir: dir });
    expect(puts()[1]?.http_options).toEqual({ host: '0.0.0.0', port: 18000 });
  });

  it('does the round again when another deploy lands right after it and drops what it wrote, so neither is lost', async () => {
    await serve().deploy({ config: config(app('x')), baseDir: dir });
    let interfered = false;
    api.afterServePut = () => {
      if (interfered) return;
      interfered = true;
      // The other deploy read the set before ours was written: it lists x and its own y, not ours.
      api.applyServeConfig(config(app('x'), app('y')));
    };
    const result = await serve().deploy({ config: config(app('ours')), baseDir: dir });
    expect(result.attempts).toBe(2);
    expect([...api.apps.keys()].sort()).toEqual(['ours', 'x', 'y']);
    expect(puts().at(-1)?.applications.map((written) => written.name)).toEqual(['x', 'y', 'ours']);
  });

  it('gives up with SERVE_CONFLICT when every round is undone', async () => {
    api.afterServePut = () => api.applyServeConfig(config(app('theirs')));
    const error = await rayfleetErrorOf(() => serve().deploy({ config: config(app('ours')), baseDir: dir }));
    expect(error.code).toBe('SERVE_CONFLICT');
    expect(error.message).toMatch(/ours not deployed after 3 tries/);
    expect(events).toEqual([]);
  });

  it("exits with DEPLOY_FAILED and Ray's message when an application fails", async () => {
    const error = await rayfleetErrorOf(() => serve().deploy({ config: config(app('a', { import_path: 'broken.module:app' })), baseDir: dir }));
    expect(error.code).toBe('DEPLOY_FAILED');
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe("a failed to deploy: ModuleNotFoundError: No module named 'broken'");
    expect(error.details).toMatch(/^Traceback/);
  });

  it('returns while DEPLOYING with wait: false', async () => {
    api.deployingPolls = 100;
    const result = await serve().deploy({ config: config(app('a')), baseDir: dir, wait: false });
    expect(result.applications.map((summary) => summary.status)).toEqual(['DEPLOYING']);
  });

  it("uploads a local working_dir and py_modules, relative to the config's folder, and deploys their gcs:// URIs", async () => {
    await mkdir(path.join(dir, 'code', 'helpers'), { recursive: true });
    await writeFile(path.join(dir, 'code', 'app.py'), 'app = None');
    await writeFile(path.join(dir, 'code', 'helpers', '__init__.py'), '');
    const result = await serve().deploy({
      config: config(
        app('a', {
          runtime_env: { working_dir: 'code', py_modules: ['code/helpers'], env_vars: { A: '1' } },
          deployments: [{ name: 'Main', ray_actor_options: { num_cpus: 0.5, runtime_env: { working_dir: './code' } } }],
        }),
      ),
      baseDir: dir,
    });
    const written = puts()[0]?.applications[0];
    expect(written?.runtime_env).toEqual({ working_dir: expect.stringMatching(/^gcs:\/\/_ray_pkg_[0-9a-f]{40}\.zip$/), py_modules: [expect.stringMatching(/^gcs:\/\//)], env_vars: { A: '1' } });
    expect(written?.deployments?.[0]).toEqual({ name: 'Main', ray_actor_options: { num_cpus: 0.5, runtime_env: { working_dir: written?.runtime_env?.working_dir } } });
    expect(result.uploaded.map((pkg) => pkg.source)).toEqual([path.join(dir, 'code'), path.join(dir, 'code', 'helpers'), path.join(dir, 'code')]);
    expect(api.packages.size).toBe(2);
  });

  it('deploys only the application --app names; refuses a config without names or applications', async () => {
    await serve().deploy({ config: config(app('a'), app('b')), baseDir: dir, app: 'b' });
    expect([...api.apps.keys()]).toEqual(['b']);
    expect((await rayfleetErrorOf(() => serve().deploy({ config: config(app('a')), baseDir: dir, app: 'c' }))).message).toMatch(/no application c; it has a/);
    expect((await rayfleetErrorOf(() => serve().deploy({ config: config(), baseDir: dir }))).code).toBe('SERVE_CONFIG_INVALID');
    const unnamed = { applications: [{ import_path: 'a:app' }] } as unknown as ServeDeployConfig;
    expect((await rayfleetErrorOf(() => serve().deploy({ config: unnamed, baseDir: dir }))).message).toMatch(/applications\[0\] has no name/);
    expect((await rayfleetErrorOf(() => serve().deploy({ config: config(app('a'), app('a')), baseDir: dir }))).message).toMatch(/named twice/);
  });

  it('refuses to drop an application deployed from Python, which a config deploy would remove', async () => {
    await serve().deploy({ config: config(app('py')), baseDir: dir });
    const python = api.apps.get('py');
    if (python !== undefined) python.deployed_app_config = null;
    const error = await rayfleetErrorOf(() => serve().deploy({ config: config(app('a')), baseDir: dir }));
    expect(error.code).toBe('SERVE_CONFLICT');
    expect(error.message).toMatch(/py was deployed from Python/);
  });

  it("says what Ray's validation refused", async () => {
    api.refuseNextServePut = '1 validation error for ServeDeploySchema\napplications.0.import_path\n  Input should be a valid string [type=string_type]\n    For further information visit https://errors.pydantic.dev';
    const error = await rayfleetErrorOf(() => serve().deploy({ config: config(app('a')), baseDir: dir }));
    expect(error.code).toBe('SERVE_CONFIG_INVALID');
    expect(error.message).toBe('Ray refused the Serve config: 1 validation error for ServeDeploySchema; applications.0.import_path; Input should be a valid string [type=string_type]');
  });
});

describe('FleetServe.delete, status and shutdown', () => {
  it('deletes one application and keeps the others serving', async () => {
    await serve().deploy({ config: config(app('a'), app('b')), baseDir: dir });
    await serve().delete('a');
    expect([...api.apps.keys()]).toEqual(['b']);
    expect(puts().at(-1)?.applications).toEqual([app('b')]);
    expect(events.at(-1)).toEqual({ type: 'serve-deleted', apps: ['a'], reason: 'serve delete a' });
    const error = await rayfleetErrorOf(() => serve().delete('a'));
    expect(error.code).toBe('SERVE_APP_NOT_FOUND');
    expect(error.details).toBe('The applications are: b.');
  });

  it('reports each application, its URL from this machine, and replicas by state', async () => {
    await serve().deploy({ config: config(app('a'), app('root', { route_prefix: '/' }), app('internal', { route_prefix: null })), baseDir: dir });
    const status = await serve().status();
    expect(status.running).toBe(true);
    expect(status.applications.map((summary) => [summary.name, summary.url, summary.deployments[0]?.replicas])).toEqual([
      ['a', 'http://127.0.0.1:18000/a', { RUNNING: 1 }],
      ['root', 'http://127.0.0.1:18000/', { RUNNING: 1 }],
      ['internal', null, { RUNNING: 1 }],
    ]);
  });

  it('shuts Serve down with every application, and says which', async () => {
    await serve().deploy({ config: config(app('a'), app('b')), baseDir: dir });
    expect(await serve().shutdown()).toEqual(['a', 'b']);
    expect(api.apps.size).toBe(0);
    expect(events.at(-1)).toEqual({ type: 'serve-deleted', apps: ['a', 'b'], reason: 'serve shutdown' });
  });
});

describe('sameConfig', () => {
  it("takes Ray's schema's rewriting of numbers and nulls as the same config, and any real change as another", () => {
    expect(sameConfig({ name: 'a', deployments: [{ num_cpus: 1.0, max_replicas: 4 }] }, { name: 'a', deployments: [{ num_cpus: 1, max_replicas: '4' }] })).toBe(true);
    expect(sameConfig({ name: 'a', args: null }, { name: 'a' })).toBe(true);
    expect(sameConfig({ name: 'a', args: { greeting: 'hi' } }, { name: 'a', args: { greeting: 'hello' } })).toBe(false);
    expect(sameConfig({ name: 'a', import_path: 'x:app' }, { name: 'a', import_path: 'y:app' })).toBe(false);
    expect(sameConfig({ name: 'a', deployments: [] }, { name: 'a', deployments: [{ name: 'D' }] })).toBe(false);
    expect(sameConfig(null, { name: 'a' })).toBe(false);
  });
});
