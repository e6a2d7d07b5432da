// The control plane's HTTP surface without a socket, against stand-in cluster state dirs (a saved record, a watcher status,
// a journal, a history) and the real Fleet: what each endpoint answers, the guard, the document and the stream.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeClusterRecord } from '../fleet/cluster-record.js';
import { findFreePort } from '../net/ports.js';
import { clusterSpecSchema } from '../spec/schema.js';
import { ObservationHistory } from '../watcher/observation-history.js';
import { ClusterStatus, EventList, WatcherView } from './api-schemas.js';
import { createDashboardApp } from './dashboard-server.js';
import { FleetClusterControl } from './fleet-cluster-control.js';
import { readSse } from '../../test/support/sse-events.js';
import { CONTENT_SECURITY_POLICY } from './request-guard.js';

const TOKEN = 'a'.repeat(64);
const PORT = 8266;
const CLUSTER = 'unit';

let home: string;
let previousHome: string | undefined;
let control: FleetClusterControl;
/** Stands in for the running watcher: a live process of our own holds its lock (stopping it signals this one, never us). */
let watcherStandIn: ChildProcess;

function stateDir(): string {
  return path.join(home, 'clusters', CLUSTER);
}

async function journal(...events: Array<Record<string, unknown>>): Promise<void> {
  await mkdir(stateDir(), { recursive: true });
  await appendFile(path.join(stateDir(), 'journal.jsonl'), events.map((event) => `${JSON.stringify({ v: 1, cluster: CLUSTER, ...event })}\n`).join(''));
}

/** A cluster that `up` left: its record (Ray's GCS on a port nobody listens on), a running watcher's lock and status. */
async function standInCluster(): Promise<void> {
  const spec = clusterSpecSchema.parse({
    name: CLUSTER,
    workerGroups: [
      { name: 'worker', cpus: 1, min: 1, max: 3 },
      { name: 'gpu', cpus: 1, gpus: 1, min: 0, max: 2 },
    ],
    // Off: a live change would otherwise start a background watcher for this stand-in.
    watcher: { enabled: false },
  });
  const gcsPort = await findFreePort();
  await writeClusterRecord(path.join(stateDir(), 'cluster.json'), {
    createdAt: new Date().toISOString(),
    spec,
    ports: { gcsPort, dashboardPort: await findFreePort(), clientPort: await findFreePort(), servePort: await findFreePort(), portOffset: 0 },
  });
  watcherStandIn = spawn('sleep', ['300'], { stdio: 'ignore' });
  await mkdir(path.join(stateDir(), 'watcher.lock'), { recursive: true });
  await writeFile(path.join(stateDir(), 'watcher.lock', 'pid'), `${watcherStandIn.pid}\n`);
  await writeFile(
    path.join(stateDir(), 'watcher-status.json'),
    JSON.stringify({
      pid: watcherStandIn.pid,
      startedAt: new Date().toISOString(),
      lastTickAt: new Date().toISOString(),
      tickSeconds: 0.01,
      source: 'gcs',
      problems: [],
      settings: { ...spec.watcher, paused: true },
      demand: { shapes: [{ shape: { CPU: 1 }, count: 3 }], gangs: [], constraints: [] },
      groups: [
        { name: 'worker', min: 1, max: 3, registered: 1, launching: 2, draining: 0, backoffUntil: undefined },
        { name: 'gpu', min: 0, max: 2, registered: 0, launching: 0, draining: 0, backoffUntil: '2030-01-01T00:00:00.000Z' },
      ],
      launching: [],
      infeasible: [],
      withheld: ['paused: would launch 2 in worker'],
      lastPlan: { launches: [], drains: [], cleanups: [] },
    }),
  );
}

function app(host = '127.0.0.1') {
  return createDashboardApp({ host, port: () => PORT, token: TOKEN, control, snapshotIntervalMs: 50 });
}

async function request(pathname: string, init: RequestInit & { host?: string; bind?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('host')) headers.set('host', init.host ?? `127.0.0.1:${PORT}`);
  return app(init.bind).request(pathname, { ...init, headers });
}

const auth = { authorization: `Bearer ${TOKEN}` };
const json = { 'content-type': 'application/json' };

beforeEach(async () => {
  previousHome = process.env.RAYFLEET_HOME;
  home = await mkdtemp(path.join(os.tmpdir(), 'rf-dash-'));
  process.env.RAYFLEET_HOME = home;
  control = new FleetClusterControl();
  await standInCluster();
});

afterEach(() => {
  watcherStandIn.kill('SIGKILL');
  control.close();
  if (previousHome === undefined) delete process.env.RAYFLEET_HOME;
  else process.env.RAYFLEET_HOME = previousHome;
});

describe('reads', () => {
  it('lists the clusters under RAYFLEET_HOME with provider, nodes, pending demand and watcher state', async () => {
    const answer = await request('/api/v1/clusters');
    expect(answer.status).toBe(200);
    const { clusters } = (await answer.json()) as { clusters: Array<Record<string, unknown>> };
    expect(clusters).toEqual([
      expect.objectContaining({
        name: CLUSTER,
        provider: 'local',
        nodes: { alive: 0, total: 0 },
        pendingDemand: 3,
        watcher: expect.objectContaining({ running: true, paused: true, source: 'gcs' }),
      }),
    ]);
  });

  it('answers a cluster with the object `status --json` prints, Ray unreachable said in it', async () => {
    const answer = await request(`/api/v1/clusters/${CLUSTER}`);
    expect(answer.status).toBe(200);
    const status = ClusterStatus.parse(await answer.json());
    expect(status).toMatchObject({ cluster: CLUSTER, provider: 'local', nodes: [] });
    expect(status.rayError).toBeDefined();
  });

  it('says 404 with the code for a cluster that is not up, and for a name no cluster can have', async () => {
    for (const name of ['nope', 'NOT_A_NAME']) {
      const answer = await request(`/api/v1/clusters/${name}/groups`);
      expect(answer.status).toBe(404);
      expect(await answer.json()).toMatchObject({ code: 'CLUSTER_NOT_FOUND' });
    }
  });

  it("gives groups by phase with back-off, demand, and the watcher's state from its status", async () => {
    const groups = (await (await request(`/api/v1/clusters/${CLUSTER}/groups`)).json()) as { countedBy: string; groups: unknown[] };
    expect(groups.countedBy).toBe('watcher');
    expect(groups.groups).toEqual([
      { name: 'worker', min: 1, max: 3, registered: 1, launching: 2, draining: 0, dead: 0, unknown: 0, backoffUntil: null },
      { name: 'gpu', min: 0, max: 2, registered: 0, launching: 0, draining: 0, dead: 0, unknown: 0, backoffUntil: '2030-01-01T00:00:00.000Z' },
    ]);
    const demand = (await (await request(`/api/v1/clusters/${CLUSTER}/demand`)).json()) as Record<string, unknown>;
    expect(demand).toMatchObject({ source: 'gcs', shapes: [{ shape: { CPU: 1 }, count: 3 }], withheld: ['paused: would launch 2 in worker'] });
    const watcher = WatcherView.parse(await (await request(`/api/v1/clusters/${CLUSTER}/watcher`)).json());
    expect(watcher).toMatchObject({ running: true, paused: true, pid: watcherStandIn.pid });
  });

  it('reads the history in buckets and refuses a window that ends before it starts', async () => {
    const history = await ObservationHistory.open(stateDir());
    const now = Date.now();
    await history.append({ atMs: now - 4000, values: { 'nodes/worker/registered': 1 } });
    await history.append({ atMs: now - 2000, values: { 'nodes/worker/registered': 2, 'demand/{CPU: 1}': 3 } });
    const since = new Date(now - 5000).toISOString();
    const window = (await (await request(`/api/v1/clusters/${CLUSTER}/history?since=${since}&step=1`)).json()) as { series: Record<string, Array<number | null>> };
    expect(window.series['nodes/worker/registered']).toContain(2);
    expect(window.series['demand/{CPU: 1}']).toContain(3);
    const backwards = await request(`/api/v1/clusters/${CLUSTER}/history?since=${new Date(now).toISOString()}&until=${since}`);
    expect(backwards.status).toBe(400);
    const bad = await request(`/api/v1/clusters/${CLUSTER}/history?step=0`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issues: Array<{ path: string }> }).issues[0]?.path).toBe('query.step');
  });

  it('filters events by type, time and count, passing kinds it does not know, each with an id to resume from', async () => {
    await journal(
      { time: '2026-12-01T10:00:00.000Z', type: 'launch', node: 'unit-worker-1', group: 'worker', reason: 'up', cpus: 1, gpus: 0 },
      { time: '2026-12-01T10:00:05.000Z', type: 'withheld', cause: 'paused', group: 'worker', reason: 'paused: would launch 1', numbers: { pending: 1 } },
      { time: '2026-12-01T10:00:09.000Z', type: 'some-future-kind', reason: 'from a newer watcher' },
    );
    const all = EventList.parse(await (await request(`/api/v1/clusters/${CLUSTER}/events`)).json());
    expect(all.events.map((event) => event.type)).toEqual(['launch', 'withheld', 'some-future-kind']);
    expect(all.lastId).toBe(all.events.at(-1)?.id);
    const withheld = EventList.parse(await (await request(`/api/v1/clusters/${CLUSTER}/events?type=withheld,scale-up`)).json());
    expect(withheld.events).toEqual([expect.objectContaining({ type: 'withheld', cause: 'paused', numbers: { pending: 1 } })]);
    const late = EventList.parse(await (await request(`/api/v1/clusters/${CLUSTER}/events?since=2026-12-01T10:00:05Z&limit=1`)).json());
    expect(late.events.map((event) => event.type)).toEqual(['some-future-kind']);
    expect((await request(`/api/v1/clusters/${CLUSTER}/events?limit=0`)).status).toBe(400);
  });
});

describe('changes', () => {
  it('need the token: none or a wrong one is 401, with no way around it in the URL', async () => {
    for (const headers of [{}, { authorization: `Bearer ${'b'.repeat(64)}` }, { authorization: TOKEN }] as Array<Record<string, string>>) {
      const answer = await request(`/api/v1/clusters/${CLUSTER}/workers?token=${TOKEN}`, { method: 'POST', headers: { ...json, ...headers }, body: '{"count":1}' });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await answer.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    }
  });

  it('are 400 naming the field for a bad body, 404 for an unknown group, and 409 past a group max', async () => {
    const cases: Array<[string, string, string]> = [
      ['POST', '/workers', '{"count":0}'],
      ['POST', '/workers', '{"count":1,"extra":true}'],
      ['PATCH', '/watcher', '{"groups":[{"name":"worker","min":-1}]}'],
      ['PATCH', '/watcher', '{"paused":"yes"}'],
      ['POST', '/workers', '{not json'],
    ];
    const paths: string[] = [];
    for (const [method, suffix, body] of cases) {
      const answer = await request(`/api/v1/clusters/${CLUSTER}${suffix}`, { method, headers: { ...json, ...auth }, body });
      expect(answer.status).toBe(400);
      const error = (await answer.json()) as { code: string; issues: Array<{ path: string }> };
      expect(error.code).toBe('USAGE');
      paths.push(error.issues[0]?.path ?? '');
    }
    expect(paths).toEqual(['body.count', 'body', 'body.groups.0.min', 'body.paused', 'body']);
    for (const [method, suffix, body] of [['POST', '/workers', '{"group":"tpu"}'], ['PATCH', '/watcher', '{"groups":[{"name":"tpu","max":1}]}']]) {
      const unknownGroup = await request(`/api/v1/clusters/${CLUSTER}${suffix}`, { method, headers: { ...json, ...auth }, body });
      expect(unknownGroup.status).toBe(404);
      expect(await unknownGroup.json()).toMatchObject({ code: 'GROUP_NOT_FOUND' });
    }
    const tooMany = await request(`/api/v1/clusters/${CLUSTER}/workers`, { method: 'POST', headers: { ...json, ...auth }, body: '{"group":"gpu","count":3}' });
    expect(tooMany.status).toBe(409);
    expect(await tooMany.json()).toMatchObject({ code: 'GROUP_AT_MAX', message: expect.stringContaining('room for 2 more workers, not 3') });
  });

  it("PATCH /watcher saves into the cluster's spec and journals spec-changed by the API", async () => {
    const answer = await request(`/api/v1/clusters/${CLUSTER}/watcher`, {
      method: 'PATCH',
      headers: { ...json, ...auth },
      body: JSON.stringify({ idleTimeoutMs: 30_000, groups: [{ name: 'worker', max: 4 }] }),
    });
    expect(answer.status).toBe(200);
    const record = JSON.parse(await readFile(path.join(stateDir(), 'cluster.json'), 'utf8')) as { spec: { watcher: { idleTimeoutMs: number }; workerGroups: Array<{ max: number }> } };
    expect(record.spec.watcher.idleTimeoutMs).toBe(30_000);
    expect(record.spec.workerGroups[0]?.max).toBe(4);
    const { events } = EventList.parse(await (await request(`/api/v1/clusters/${CLUSTER}/events?type=spec-changed`)).json());
    expect(events).toEqual([expect.objectContaining({ type: 'spec-changed', by: 'api' })]);
    const invalid = await request(`/api/v1/clusters/${CLUSTER}/watcher`, { method: 'PATCH', headers: { ...json, ...auth }, body: JSON.stringify({ groups: [{ name: 'worker', min: 5 }] }) });
    expect(invalid.status).toBe(400);
  });
});

describe('the guard', () => {
  it('refuses a Host other than the bind address (DNS rebinding), on every path', async () => {
    for (const pathname of ['/', '/api/v1/clusters']) {
      const answer = await request(pathname, { host: `evil.example:${PORT}` });
      expect(answer.status).toBe(400);
    }
    expect((await request('/api/v1/clusters', { host: `localhost:${PORT}` })).status).toBe(200);
  });

  it('off loopback, serves the page shell without data and asks the token for every read', async () => {
    const shell = await request(`/clusters/${CLUSTER}`, { bind: '0.0.0.0', host: `10.1.2.3:${PORT}` });
    expect(shell.status).toBe(200);
    const page = await shell.text();
    expect(page).not.toContain(CLUSTER);
    expect(page).not.toContain(TOKEN);
    expect((await request('/api/v1/clusters', { bind: '0.0.0.0', host: `10.1.2.3:${PORT}` })).status).toBe(401);
    expect((await request('/api/v1/clusters', { bind: '0.0.0.0', host: `10.1.2.3:${PORT}`, headers: auth })).status).toBe(200);
  });

  it('sends a strict CSP, no CORS grant and no cookie', async () => {
    const answer = await request('/api/v1/clusters', { headers: { origin: 'https://evil.example' } });
    expect(answer.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    expect(answer.headers.get('set-cookie')).toBeNull();
    const preflight = await request(`/api/v1/clusters/${CLUSTER}/workers`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('routes', () => {
  it('answers a known path asked with another method 405 with Allow, and an unknown path 404, token or not', async () => {
    const trace = await request(`/api/v1/clusters/${CLUSTER}/watcher`, { method: 'PUT' });
    expect(trace.status).toBe(405);
    expect(trace.headers.get('allow')).toBe('GET, PATCH, HEAD');
    const missing = await request('/api/v1/nothing-here');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
  });
});

describe('the OpenAPI document', () => {
  it('is 3.1 and describes every endpoint with its errors, from the schemas the handlers validate with', async () => {
    const document = (await (await request('/api/v1/openapi.json')).json()) as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths).sort()).toEqual(
      [
        '/api/v1/clusters',
        '/api/v1/clusters/{name}',
        '/api/v1/clusters/{name}/demand',
        '/api/v1/clusters/{name}/events',
        '/api/v1/clusters/{name}/groups',
        '/api/v1/clusters/{name}/history',
        '/api/v1/clusters/{name}/stream',
        '/api/v1/clusters/{name}/watcher',
        '/api/v1/clusters/{name}/workers',
        '/api/v1/clusters/{name}/workers/{node}',
      ].sort(),
    );
    expect(Object.keys(document.paths['/api/v1/clusters/{name}/workers']?.post?.responses ?? {})).toEqual(expect.arrayContaining(['202', '400', '401', '404', '409']));
    expect(Object.keys(document.paths['/api/v1/clusters/{name}/workers/{node}']?.delete?.responses ?? {})).toContain('409');
    const addResponses = document.paths['/api/v1/clusters/{name}/workers']?.post?.responses as Record<string, { description: string }>;
    expect(addResponses['409']?.description).toContain('GROUP_AT_MAX');
    expect(addResponses['404']?.description).toContain('GROUP_NOT_FOUND');
  });
});

describe('the stream', () => {
  it('sends a snapshot, then each journal event within 500 ms; a reconnect with Last-Event-ID misses nothing', async () => {
    await journal({ time: new Date().toISOString(), type: 'watcher', reason: 'before the stream' });
    const first = await request(`/api/v1/clusters/${CLUSTER}/stream`);
    expect(first.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const appendedAt = Date.now();
    setTimeout(() => void journal({ time: new Date().toISOString(), type: 'scale-up', group: 'worker', count: 1, reason: 'live one' }), 100);
    const seen = await readSse(first, (events) => events.some((event) => event.event === 'journal'));
    expect(seen[0]?.event).toBe('snapshot');
    const live = seen.find((event) => event.event === 'journal');
    expect(JSON.parse(live?.data ?? '{}')).toMatchObject({ type: 'scale-up', reason: 'live one' });
    expect(Date.now() - appendedAt).toBeLessThan(100 + 500);
    // Two events while no one listens; the reconnect names the last it saw and gets exactly those.
    await journal({ time: new Date().toISOString(), type: 'launch', node: 'unit-worker-2', group: 'worker', reason: 'missed 1', cpus: 1, gpus: 0 }, { time: new Date().toISOString(), type: 'registered', node: 'unit-worker-2', reason: 'missed 2', waitedMs: 1 });
    const again = await request(`/api/v1/clusters/${CLUSTER}/stream`, { headers: { 'last-event-id': live?.id ?? '' } });
    const resumed = await readSse(again, (events) => events.filter((event) => event.event === 'journal').length >= 2);
    expect(resumed.filter((event) => event.event === 'journal').map((event) => (JSON.parse(event.data) as { reason: string }).reason)).toEqual(['missed 1', 'missed 2']);
  });

  it('is 404 for a cluster that is not up', async () => {
    expect((await request('/api/v1/clusters/nope/stream')).status).toBe(404);
  });
});
