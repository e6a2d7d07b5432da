// End to end on the CML API emulator: `cai setup` builds a real venv through a job, then the cluster's nodes are
// applications whose launcher starts real Ray nodes on this machine, which a driver uses.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../src/fleet/cluster-status.js';
import { httpRequest, type HttpAnswer } from '../src/net/http-request.js';
import { subdomainFor } from '../src/providers/cai/application-spec.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { startCmlEmulator, type CmlEmulator } from './cml-emulator/start-cml-emulator.js';
import { PYTHON_RUNTIME } from './cml-emulator/workspace-fixture.js';
import { TEST_RAY, driverFile } from './support/drivers.js';
import { createSandbox, type Sandbox } from './support/run-cli.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

const API_KEY = 'cml-e2e-key-0b9d3c7e1f2a4d6b';

/** The provider of the clusters here: the emulator's workspace, nodes on its Python runtime, the front door as auto finds it. */
const PROVIDER = `{ type: cai, runtimeIdentifier: "${PYTHON_RUNTIME}", frontDoorBodyLimit: 1MiB }`;
/** The emulator's ingress takes no request body over this, and the spec says so. */
const BODY_LIMIT_BYTES = 2 ** 20;
/**
 * The test machine reaches the pods' addresses, as a machine inside CML's network does: commands that stand for one run
 * with CDSW_ENGINE_ID, which CML sets in every workload. Every other command runs as from a laptop, through the ingress.
 */
const INSIDE_CML = { CDSW_ENGINE_ID: 'test-machine' };

describe('a cluster on Cloudera AI (the CML API emulator)', () => {
  let sandbox: Sandbox;
  let emulator: CmlEmulator;
  let cluster: TestCluster;
  let env: Record<string, string>;
  const name = `rfc${Math.random().toString(36).slice(2, 6)}`;
  /** What every command here printed, for the check that no secret was among it. */
  const printed: string[] = [];
  const run = async (args: string[]) => {
    const result = await cluster.run(args);
    printed.push(result.stdout, result.stderr);
    return result;
  };

  async function status(): Promise<ClusterStatus> {
    return cluster.json<ClusterStatus>(['status']);
  }

  function applications(): Array<{ name: string; status: string }> {
    return [...emulator.store.applications.values()].map((application) => ({ name: application.name, status: application.status }));
  }

  beforeAll(async () => {
    sandbox = await createSandbox();
    emulator = await startCmlEmulator({ apiKey: API_KEY, projectsRoot: path.join(sandbox.dir, 'projects'), ingress: { bodyLimitBytes: BODY_LIMIT_BYTES } });
    // From outside the workspace: its applications' names do not resolve here, RAYFLEET_CAI_INGRESS says where they are.
    env = { CML_HOST: emulator.workspaceUrl, CML_API_KEY: API_KEY, RAYFLEET_CAI_INGRESS: emulator.ingressAddress, RAYFLEET_HTTP_TRACE: path.join(sandbox.dir, 'http-trace.jsonl') };
    // The cluster the tests share. Every application of the emulator shares this host, so a port chosen free stays free
    // only until another process takes it: its spec is written again, the head's ports chosen again, right before `up`.
    cluster = await createTestCluster({ name, workers: 2, max: 4, provider: PROVIDER, ports: 'free+serve' }, { sandbox, env });
  }, 60_000);

  afterAll(async () => {
    await cluster.down();
    await emulator.close();
  });

  it('lists the runtimes of the workspace', async () => {
    const result = await run(['cai', 'runtimes', '--search', 'python3.11-standard']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(PYTHON_RUNTIME);
    expect(result.stdout).not.toContain('cuda');
  });

  it('sets up a project: launchers uploaded, the venv with Ray and Node built by a job run that succeeded', async () => {
    const result = await cluster.run(['cai', 'setup', '--project-name', `${name}-project`, '--json'], { timeoutMs: 900_000 });
    expect(result.exitCode, result.stderr).toBe(0);
    const setup = JSON.parse(result.stdout) as { projectId: string; status: string };
    expect(setup.status).toBe('ENGINE_SUCCEEDED');
    // The key is shown masked, never whole.
    expect(result.stderr).not.toContain(API_KEY);
    env.CML_PROJECT_ID = setup.projectId;
    const project = emulator.store.projects.get(setup.projectId);
    const venv = path.join(String(project?.directory), '.venv');
    const ray = await execa(path.join(venv, 'bin', 'ray'), ['--version']);
    expect(ray.stdout).toContain('2.60.0');
    const node = await execa(path.join(venv, 'bin', 'node'), ['--version']);
    expect(node.stdout).toMatch(/^v\d+\./);
  }, 900_000);

  it('refuses a cluster with no runtime, saying how to find one, and creates nothing', async () => {
    const bare = path.join(sandbox.dir, 'no-runtime.yaml');
    await writeFile(bare, `name: ${name}r\nprovider: { type: cai }\nwatcher: { enabled: false }\ndashboard: { enabled: false }\n`);
    const result = await sandbox.run(['up', '--config', bare], { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('runtimeIdentifier');
    expect(result.stderr).toContain('rayfleet cai runtimes');
    expect(applications().filter((application) => application.name.startsWith(`${name}r-`))).toEqual([]);
  });

  it('brings up a head and 2 worker applications that form one Ray cluster', async () => {
    // The ports chosen in beforeAll have been free for minutes (the setup job ran meanwhile): any process may hold one now.
    await cluster.writeSpec();
    const up = await run(['up']);
    expect(up.exitCode, up.stderr).toBe(0);
    // The head application's URL on the workspace's ingress, from what the client knows: the host and the project.
    expect(up.stdout).toContain(`head application: ${doorUrl()} (rayfleet's dashboard for ${name}; Ray's dashboard at ${doorUrl()}/ray/)`);
    expect(applications().map((application) => application.name)).toContain(`${name}-head`);
    const current = await status();
    expect(current.nodes.map((node) => [node.name, node.state, node.ray !== null && node.ray.status !== 'DEAD'])).toEqual([
      [`${name}-head`, 'running', true],
      [`${name}-worker-1`, 'running', true],
      [`${name}-worker-2`, 'running', true],
    ]);
    expect(applications().map((application) => application.status).sort()).toEqual(['APPLICATION_RUNNING', 'APPLICATION_RUNNING', 'APPLICATION_RUNNING']);
    // Every application behind CML's login: the door is reached with the API key here (auto).
    expect([...emulator.store.applications.values()].map((application) => application.fields.bypass_authentication)).toEqual([false, false, false]);
  });

  /** The head application's URL, as a laptop names it: its subdomain under the workspace's host. */
  const doorUrl = (): string => `http://${subdomainFor(`${name}-head`, env.CML_PROJECT_ID ?? '')}.${new URL(emulator.workspaceUrl).host}`;
  /** What status and the head's API both say of the cluster. */
  const view = (seen: ClusterStatus) => ({
    cluster: seen.cluster,
    provider: seen.provider,
    nodes: seen.nodes.map((node) => [node.name, node.role, node.group, node.state, node.ray?.nodeId, node.ray?.status === 'DEAD']),
  });

  // The head's CDSW_APP_PORT, the cluster's front door (tests in order: they share the cluster `up` made).
  const portOf = (node: string): number => {
    const application = [...emulator.store.applications.values()].find((candidate) => candidate.name === node);
    return emulator.processOf(application?.id ?? '')?.port ?? 0;
  };
  const door = (): string => `http://127.0.0.1:${portOf(`${name}-head`)}`;
  const projectDir = (): string => String([...emulator.store.projects.values()][0]?.directory);
  let dashboardToken = '';
  /** The cluster's credential, which rayfleet sends to the door in X-Ray-Authorization: its Ray token. */
  const rayToken = async (): Promise<string> => (await readFile(path.join(sandbox.dir, 'home', 'clusters', name, 'auth_token'), 'utf8')).trim();
  const withCredential = async (): Promise<Record<string, string>> => ({ 'x-ray-authorization': `Bearer ${await rayToken()}` });

  it("gives the head dashboard's token to `rayfleet dashboard --token -c NAME`, read from the project through the API", async () => {
    dashboardToken = await pollUntil(
      async () => {
        const printed = await sandbox.run(['dashboard', '--token', '-c', name], { env });
        return printed.exitCode === 0 ? printed.stdout.trim() : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, describe: () => 'the head dashboard token in the project' },
    );
    expect(dashboardToken).toBe((await readFile(path.join(projectDir(), '.rayfleet', 'clusters', name, 'control-plane', 'dashboard', 'token'), 'utf8')).trim());
  });

  it("serves its pod address, Ray's dashboard under /ray/, and on a worker's its health", async () => {
    const published = await readFile(path.join(projectDir(), '.rayfleet', 'clusters', name, 'head-address'), 'utf8');
    expect(await (await fetch(`${door()}/rayfleet/head-address`, { headers: await withCredential() })).text()).toBe(published);
    expect(published).toMatch(/^127\.0\.0\.1:\d+$/);
    const version = (await (await fetch(`${door()}/ray/api/version`, { headers: await withCredential() })).json()) as { ray_version?: string };
    expect(version.ray_version).toBe('2.60.0');
    // Ray's page loads its assets relative to /ray/, before any login.
    const rayPage = await (await fetch(`${door()}/ray/`)).text();
    const asset = /src="\.\/(static\/js\/[^"]+)"/.exec(rayPage)?.[1];
    expect(asset).toBeDefined();
    expect((await fetch(`${door()}/ray/${asset ?? ''}`)).status).toBe(200);
    const worker = (await (await fetch(`http://127.0.0.1:${portOf(`${name}-worker-1`)}/`)).json()) as { node: string; ray: string };
    expect(worker).toMatchObject({ node: `${name}-worker-1`, ray: 'running' });
  });

  it("serves rayfleet's dashboard for its cluster: the page, and the API (the cluster as `status --json` has it) with the token only", async () => {
    const page = await fetch(`${door()}/clusters/${name}`);
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=UTF-8']);
    expect(await page.text()).toContain('rayfleet cluster');
    // Its script and styles, which `cai setup` put beside the bundle: the head has no package around it.
    for (const [asset, type] of [['dashboard.js', 'text/javascript'], ['dashboard.css', 'text/css']] as const) {
      const answer = await fetch(`${door()}/assets/${asset}`);
      expect([asset, answer.status, answer.headers.get('content-type')]).toEqual([asset, 200, `${type}; charset=utf-8`]);
      expect((await answer.arrayBuffer()).byteLength).toBe((await stat(path.join('dist', 'page', asset))).size);
    }
    expect((await fetch(`${door()}/api/v1/clusters/${name}`)).status).toBe(401);
    const listed = (await (await fetch(`${door()}/api/v1/clusters`, { headers: { authorization: `Bearer ${dashboardToken}` } })).json()) as { clusters: Array<{ name: string }> };
    expect(listed.clusters.map((cluster) => cluster.name)).toEqual([name]);
    const answer = await fetch(`${door()}/api/v1/clusters/${name}`, { headers: { authorization: `Bearer ${dashboardToken}` } });
    expect(answer.status).toBe(200);
    const fromHead = (await answer.json()) as ClusterStatus;
    expect(view(fromHead)).toEqual(view(await status()));
  });

  it('streams the journal through the door: an event appended in the project reaches an SSE client', async () => {
    const controller = new AbortController();
    const journal = path.join(projectDir(), '.rayfleet', 'home', 'clusters', name, 'journal.jsonl');
    // Resumed from the journal's end as it is now: a stream without Last-Event-ID starts wherever the end is once the
    // server gets to it, which an append made right after the answer's headers can beat (it failed so in one of two CI runs).
    // (No journal yet, when nothing was journaled in the project so far: the stream then starts at its first byte.)
    const end = (await stat(journal).catch(() => undefined))?.size ?? 0;
    const stream = await fetch(`${door()}/api/v1/clusters/${name}/stream`, { headers: { authorization: `Bearer ${dashboardToken}`, 'last-event-id': String(end) }, signal: controller.signal });
    expect([stream.status, stream.headers.get('content-type')?.split(';')[0]]).toEqual([200, 'text/event-stream']);
    const marker = `front-door-${Date.now()}`;
    const event = { v: 1, time: new Date().toISOString(), type: 'watcher', cluster: name, reason: marker, source: 'launcher', pid: 1, exitCode: 0, restarts: 0, delayS: 0 };
    await appendFile(journal, `${JSON.stringify(event)}\n`);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let seen = '';
    const started = Date.now();
    while (!seen.includes(marker)) {
      const chunk = await reader.read();
      if (chunk.done) break;
      seen += decoder.decode(chunk.value, { stream: true });
    }
    controller.abort();
    expect(seen).toMatch(new RegExp(`event: journal\ndata: [^\n]*${marker}[^\n]*\nid: \\d+\n`));
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  /** One request from outside, through the ingress to the head application's door, with what rayfleet sends there. */
  async function throughIngress(pathAndQuery: string, headers: Record<string, string>): Promise<HttpAnswer> {
    return httpRequest(`${doorUrl()}${pathAndQuery}`, { method: 'GET', headers, connectTo: emulator.ingressAddress });
  }
  const ingressSince = (from: number) => emulator.ingressRequests.slice(from);

  it('submits a job with --working-dir from outside, through the head application with the API key: all its 2,000 lines printed, exit 0', async () => {
    const work = path.join(sandbox.dir, 'lines-job');
    await mkdir(work, { recursive: true });
    await writeFile(path.join(work, 'print_lines.py'), 'for i in range(2000):\n    print(f"line {i:04d} " + "x" * 40)\n');
    const before = emulator.ingressRequests.length;
    const job = await run(['job', 'submit', '--working-dir', work, '--', 'python', 'print_lines.py']);
    expect(job.exitCode, job.stderr).toBe(0);
    expect(job.stdout.split('\n').filter((line) => line.startsWith('line '))).toEqual(Array.from({ length: 2000 }, (_, index) => `line ${String(index).padStart(4, '0')} ${'x'.repeat(40)}`));
    // The package and the job went through the ingress, to the door's /ray/.
    const seen = ingressSince(before).map((request) => `${request.method} ${request.url.split('?')[0]} ${request.status}`);
    expect(seen).toContain('POST /ray/api/jobs/ 200');
    expect(seen.some((line) => /^PUT \/ray\/api\/packages\/gcs\/_ray_pkg_[0-9a-f]+\.zip 200$/.test(line))).toBe(true);
  });

  it('refuses a package over the ingress body limit before uploading it, saying so', async () => {
    const big = path.join(sandbox.dir, 'big-job');
    await mkdir(big, { recursive: true });
    await writeFile(path.join(big, 'weights.bin'), randomBytes(BODY_LIMIT_BYTES + 4096));
    const before = emulator.ingressRequests.length;
    const job = await run(['job', 'submit', '--working-dir', big, '--', 'python', '-c', 'print(1)']);
    expect(job.exitCode).toBe(2);
    expect(job.stderr).toMatch(/error \[JOB_PACKAGE_TOO_LARGE\]: PUT \/api\/packages\/gcs\/_ray_pkg_[0-9a-f]+\.zip would send [\d.]+ MiB, over the 1 MiB that the way to .* takes; nothing was uploaded/);
    expect(ingressSince(before).filter((request) => request.method === 'PUT')).toEqual([]);
  });

  it('deploys Serve from outside, and a request through the door answers', async () => {
    const deploy = await run(['serve', 'deploy', path.resolve('examples/serve/hello.yaml')]);
    expect(deploy.exitCode, deploy.stderr).toBe(0);
    const headers = { authorization: `Bearer ${API_KEY}`, ...(await withCredential()) };
    const answer = await throughIngress('/serve/hello?name=door', headers);
    expect([answer.status, answer.text]).toEqual([200, 'hello, door']);
    const serve = JSON.parse((await run(['serve', 'status', '--json'])).stdout) as { url: string };
    expect(serve.url).toBe(`${doorUrl()}/serve`);
    const removed = await run(['serve', 'delete', 'hello']);
    expect(removed.exitCode, removed.stderr).toBe(0);
  });

  it("shows Ray's view in `status` from outside, and the head's API through the door answers as `status --json` does", async () => {
    const here = await status();
    expect(here.rayError).toBeUndefined();
    expect(here.dashboardUrl).toBe(`${doorUrl()}/ray`);
    expect(here.nodes.map((node) => [node.name, node.ray !== null && node.ray.status !== 'DEAD'])).toEqual([
      [`${name}-head`, true],
      [`${name}-worker-1`, true],
      [`${name}-worker-2`, true],
    ]);
    const answer = await throughIngress(`/api/v1/clusters/${name}`, { authorization: `Bearer ${API_KEY}`, ...(await withCredential()) });
    expect(answer.status).toBe(200);
    expect(view(JSON.parse(answer.text) as ClusterStatus)).toEqual(view(here));
    // `rayfleet dashboard` on this machine serves the remote cluster's API from the same view.
    const started = await sandbox.run(['dashboard', '--background', '--port', '0'], { env });
    const local = /dashboard: (http:\/\/127\.0\.0\.1:\d+)/.exec(started.stdout)?.[1];
    try {
      expect(local, started.stderr).toBeDefined();
      const fromHere = (await (await fetch(`${local ?? ''}/api/v1/clusters/${name}`)).json()) as ClusterStatus;
      expect(view(fromHere)).toEqual(view(here));
    } finally {
      await sandbox.run(['dashboard', '--stop'], { env });
    }
    // Without the cluster's credential the door answers itself, past the ingress: 401, the page shell aside.
    expect((await throughIngress(`/api/v1/clusters/${name}`, { authorization: `Bearer ${API_KEY}` })).status).toBe(401);
    expect((await throughIngress(`/clusters/${name}`, { authorization: `Bearer ${API_KEY}` })).status).toBe(200);
  });

  it('fails with one error naming both ways where the ingress takes no API key and the head is not public', async () => {
    emulator.setIngress({ acceptsApiKey: false });
    const listed = await run(['job', 'list']).finally(() => emulator.setIngress({ acceptsApiKey: true }));
    expect(listed.exitCode).toBe(5);
    expect(listed.stderr.match(/error \[/g)).toHaveLength(1);
    expect(listed.stderr).toMatch(/error \[RAY_UNREACHABLE\]: cannot reach the head of \w+ through its application http:\/\/\S+: the workspace's ingress answered 302, a redirect to http:\/\/127\.0\.0\.1:\d+\/login with the CML API key, and 302, a redirect to \S+ without it/);
    expect(listed.stderr).toContain('provider.frontDoor: api-key needs');
    expect(listed.stderr).toContain('provider.frontDoor: public needs an administrator to allow unauthenticated applications');
  });

  it('submits a job to the cai cluster: its line printed, exit 0', async () => {
    const job = await cluster.run(['job', 'submit', '--', 'python', '-c', 'print("hello from the cai head")']);
    expect(job.exitCode, job.stderr).toBe(0);
    expect(job.stdout).toMatch(/^hello from the cai head$/m);
  });

  it('runs a driver with `rayfleet env`: a Ray job through the head dashboard, its tasks on the workers, none of them with the API key', async () => {
    const driverEnv = JSON.parse((await cluster.run(['env', '--json'], { env: INSIDE_CML })).stdout) as Record<string, string>;
    expect(driverEnv.RAY_ADDRESS).toMatch(/^ray:\/\/127\.0\.0\.1:\d+$/);
    // (The Ray client at RAY_ADDRESS works too; Ray 2.60's client server now and then failed to start on this machine.)
    const job = await execa(TEST_RAY, ['job', 'submit', '--address', driverEnv.RAY_API_SERVER_ADDRESS ?? '', '--', 'python', driverFile('nodes-and-environments.py')], { env: driverEnv, timeout: 180_000 });
    const ran = JSON.parse(job.stdout.split('\n').find((line) => line.startsWith('RESULT '))?.slice('RESULT '.length) ?? '[]') as string[];
    // Every task ran on a worker application's Ray node (the head offers no CPU).
    const workers = (await status()).nodes.filter((node) => node.role === 'worker').map((node) => node.ray?.nodeId);
    expect(ran.length).toBeGreaterThan(0);
    for (const nodeId of ran) expect(workers).toContain(nodeId);
    // The driver's environment and its tasks' on the workers: Ray's, from the venv, without the key every application has.
    const environments = JSON.parse(job.stdout.split('\n').find((line) => line.startsWith('ENV '))?.slice('ENV '.length) ?? '[]') as Array<Record<string, string>>;
    expect(environments).toHaveLength(5);
    for (const seen of environments) {
      expect(seen.CDSW_APIV2_KEY).toBeUndefined();
      expect(seen.VIRTUAL_ENV).toMatch(/\.venv$/);
    }
    expect(job.stdout).not.toContain(API_KEY);
    // Hygiene, not a boundary: the launcher itself has the key, where a task of the same user could still read it.
    const headApplication = [...emulator.store.applications.values()].find((application) => application.name === `${name}-head`);
    const launcherEnv = await readFile(`/proc/${emulator.processOf(headApplication?.id ?? '')?.pid ?? 0}/environ`, 'utf8');
    expect(launcherEnv.split('\0')).toContain(`CDSW_APIV2_KEY=${API_KEY}`);
  });

  // One add for both: through the API's 429 and 500 answers, then its log, then its removal.
  it('adds a worker application through 429 and 500 answers without a duplicate, shows its log, removes it', async () => {
    emulator.setFaults({ rules: [{ kind: 'status', status: 429, times: 2 }, { kind: 'status', status: 500, times: 2, method: 'POST' }] });
    const add = await run(['add-worker']);
    emulator.setFaults({});
    expect(add.exitCode, add.stderr).toBe(0);
    const names = applications().map((application) => application.name).sort();
    expect(names).toEqual([`${name}-head`, `${name}-worker-1`, `${name}-worker-2`, `${name}-worker-3`]);
    expect(emulator.requests.some((request) => request.fault !== undefined)).toBe(true);
    const logs = await run(['logs', `${name}-worker-3`]);
    expect(logs.exitCode, logs.stderr).toBe(0);
    expect(logs.stdout).toContain('Ray runtime started');
    // The drain needs the GCS, which only CML's network reaches (from outside, the watcher in the head scales down).
    const remove = await cluster.run(['remove-worker', `${name}-worker-3`], { env: INSIDE_CML });
    expect(remove.exitCode, remove.stderr).toBe(0);
    expect(applications().map((application) => application.name)).not.toContain(`${name}-worker-3`);
  });

  it('kept every secret out of the trace, the ingress\'s URLs and what the commands printed', async () => {
    const secrets = [API_KEY, await rayToken(), dashboardToken];
    const trace = await readFile(env.RAYFLEET_HTTP_TRACE ?? '', 'utf8');
    expect(trace.length).toBeGreaterThan(0);
    const urls = emulator.ingressRequests.map((request) => `${request.host}${request.url}`).join('\n');
    expect(urls).toContain('/ray/api/jobs/');
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(10);
      expect(trace).not.toContain(secret);
      expect(urls).not.toContain(secret);
      expect(printed.join('\n')).not.toContain(secret);
    }
  });

  it("takes the cluster down: no application and no process left, the cluster's tokens gone from the project", async () => {
    const ids = [...emulator.store.applications.keys()];
    const token = path.join(String([...emulator.store.projects.values()][0]?.directory), '.rayfleet', 'home', 'clusters', name, 'auth_token');
    expect(existsSync(token)).toBe(true);
    const down = await run(['down']);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(applications()).toEqual([]);
    expect(ids.map((id) => emulator.processOf(id))).toEqual(ids.map(() => undefined));
    expect(existsSync(token)).toBe(false);
    expect(existsSync(path.join(path.dirname(token), '..', '..', '..', 'clusters', name, 'control-plane', 'dashboard', 'token'))).toBe(false);
  });

  // After `down`: on this one machine the test cluster takes the same head ports (each CML pod has its own).
  it('tests the workspace end to end in one command, and cleans up after itself', async () => {
    const tested = `${name}t`;
    const result = await cluster.run(['cai', 'test', '-c', tested, '--workers', '1', '--cpu', '1', '--memory', '2', '--gpu', '0']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('test passed: 1 worker(s) joined Ray');
    expect(result.stdout).toContain(`${tested}-worker-1`);
    expect(result.stdout).toContain(`CML ${emulator.workspaceUrl}, key cml-…`);
    expect(`${result.stdout}${result.stderr}`).not.toContain(API_KEY);
    expect(applications().filter((application) => application.name.startsWith(`${tested}-`))).toEqual([]);
  });

  describe('with the watcher inside the head application', () => {
    const scaled = `${name}w`;
    let scaledCluster: TestCluster;
    const runScaled = (args: string[]) => scaledCluster.run(args);
    const apps = () => applications().filter((application) => application.name.startsWith(`${scaled}-`));
    const appNames = () => apps().map((application) => application.name).sort();

    /** SIGKILLs an application's whole process group, as a node lost under it; never a pid the test cannot name. */
    function killEngine(applicationId: string | undefined): void {
      const pid = applicationId === undefined ? undefined : emulator.processOf(applicationId)?.pid;
      if (pid === undefined || pid <= 0) throw new Error(`no process for application ${applicationId ?? '(none)'}`);
      process.kill(-pid, 'SIGKILL');
    }

    async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 180_000): Promise<T> {
      return pollUntil(async () => check(), { timeoutMs, intervalMs: 500, describe: () => what });
    }

    beforeAll(async () => {
      scaledCluster = await createTestCluster({ name: scaled, workers: 1, max: 3, provider: PROVIDER, watcher: '{ interval: 500ms, idleTimeout: 5s }' }, { sandbox, env });
      const up = await runScaled(['up']);
      if (up.exitCode !== 0) throw new Error(`up failed: ${up.stderr}`);
      expect(up.stdout).toContain('watcher: in the head application');
    }, 300_000);

    afterAll(async () => {
      await scaledCluster.down();
    });

    it('replaces a worker application killed below min, and deletes the killed one once Ray has let it go', async () => {
      const victim = [...emulator.store.applications.values()].find((application) => application.name === `${scaled}-worker-1`);
      killEngine(victim?.id);
      // Ray shows the killed node alive until its health check gives up: meanwhile it is replaced (under the next free
      // name), never terminated without Ray's word; once Ray has it dead, its application is deleted.
      await waitFor('a new running worker application, and the killed one gone', () => {
        const workers = [...emulator.store.applications.values()].filter((application) => application.name.startsWith(`${scaled}-worker-`));
        return !workers.some((application) => application.id === victim?.id) && workers.some((application) => application.status === 'APPLICATION_RUNNING') ? true : undefined;
      });
    });

    it('scales worker applications up on demand and back down when idle', async () => {
      const driverEnv = JSON.parse((await scaledCluster.run(['env', '--json'], { env: INSIDE_CML })).stdout) as Record<string, string>;
      // A job on the head: its driver runs beside the head's raylet, where the watcher sees its demand.
      const job = execa(TEST_RAY, ['job', 'submit', '--address', driverEnv.RAY_API_SERVER_ADDRESS ?? '', '--', 'python', driverFile('burst-job.py'), '3', '10'], { env: driverEnv, reject: false, timeout: 240_000 });
      await waitFor('the watcher to run 3 worker applications', () => (appNames().filter((app) => app.includes('-worker-')).length === 3 ? true : undefined));
      expect(appNames()).toEqual([`${scaled}-head`, `${scaled}-worker-1`, `${scaled}-worker-2`, `${scaled}-worker-3`]);
      const result = await job;
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^RESULT 3$/m);
      await waitFor('idle worker applications deleted down to min 1', () => (appNames().filter((app) => app.includes('-worker-')).length === 1 ? true : undefined));
      // What the watcher in the head did shows in `events` here, read from the project.
      const events = JSON.parse((await runScaled(['events', '--json'])).stdout) as Array<{ type: string; reason: string }>;
      expect(events.filter((event) => event.type === 'scale-up').length).toBeGreaterThanOrEqual(1);
      expect(events.filter((event) => event.type === 'drain').length).toBe(2);
      expect(events.some((event) => event.type === 'cluster-up')).toBe(true);
    });

    it('backs the group off when CML refuses a worker for quota, and launches again once it may', async () => {
      const project = [...emulator.store.projects.values()][0];
      const journal = path.join(String(project?.directory), '.rayfleet', 'home', 'clusters', scaled, 'journal.jsonl');
      const quotaFailures = async (): Promise<number> =>
        (await readFile(journal, 'utf8'))
          .split('\n')
          .filter((line) => line.includes('"launch-failed"') && line.includes('CAI_QUOTA')).length;
      emulator.setFaults({ rules: [{ kind: 'status', status: 400, grpcCode: 8, message: 'insufficient quota: cpu', method: 'POST', path: /\/applications$/, times: Infinity }] });
      // The one worker left after the scale-down, whichever it is.
      const victim = [...emulator.store.applications.values()].find((application) => application.name.startsWith(`${scaled}-worker-`));
      killEngine(victim?.id);
      await waitFor('a launch refused for quota', async () => ((await quotaFailures()) >= 1 ? true : undefined));
      // Backed off: the failures stay few while the group waits (5 s, doubling), instead of one per tick.
      const statusFile = path.join(path.dirname(journal), 'watcher-status.json');
      await waitFor('the watcher to say the group backs off', async () => ((await readFile(statusFile, 'utf8')).includes('backs off') ? true : undefined));
      expect(await quotaFailures()).toBeLessThanOrEqual(2);
      emulator.setFaults({});
      await waitFor('a worker launched again after the back-off', () =>
        apps().some((application) => application.name.startsWith(`${scaled}-worker-`) && application.status === 'APPLICATION_RUNNING') ? true : undefined,
      );
    });
  });
  describe('through a public head application, where the ingress takes no API key', () => {
    const open = `${name}p`;
    let openCluster: TestCluster;

    beforeAll(async () => {
      emulator.setIngress({ acceptsApiKey: false, allowUnauthenticatedApps: true });
      openCluster = await createTestCluster({ name: open, provider: `{ type: cai, runtimeIdentifier: "${PYTHON_RUNTIME}", frontDoor: public }` }, { sandbox, env });
      const up = await openCluster.run(['up']);
      if (up.exitCode !== 0) throw new Error(`up failed: ${up.stderr}`);
    }, 300_000);

    afterAll(async () => {
      await openCluster.down();
      emulator.setIngress({ acceptsApiKey: true, allowUnauthenticatedApps: false });
    });

    it("makes the head alone public, runs a job and shows Ray's view from outside, and answers nothing but the page shell without the cluster's credential", async () => {
      const head = [...emulator.store.applications.values()].find((application) => application.name === `${open}-head`);
      expect(head?.fields.bypass_authentication).toBe(true);
      const job = await openCluster.run(['job', 'submit', '--', 'python', '-c', 'print("through the public door")']);
      expect(job.exitCode, job.stderr).toBe(0);
      expect(job.stdout).toMatch(/^through the public door$/m);
      const seen = await openCluster.json<ClusterStatus>(['status']);
      expect(seen.nodes.map((node) => [node.name, node.ray !== null && node.ray.status !== 'DEAD'])).toEqual([[`${open}-head`, true]]);
      const url = `http://${head?.subdomain ?? ''}.${new URL(emulator.workspaceUrl).host}`;
      const get = (pathAndQuery: string, headers: Record<string, string> = {}) => httpRequest(`${url}${pathAndQuery}`, { method: 'GET', headers, connectTo: emulator.ingressAddress });
      for (const pathAndQuery of [`/api/v1/clusters/${open}`, '/ray/api/version', '/rayfleet/head-address', '/serve/']) {
        const answer = await get(pathAndQuery);
        expect([pathAndQuery, answer.status, answer.headers['x-rayfleet-door']]).toEqual([pathAndQuery, 401, '1']);
      }
      expect((await get(`/clusters/${open}`)).status).toBe(200);
      const token = (await readFile(path.join(sandbox.dir, 'home', 'clusters', open, 'auth_token'), 'utf8')).trim();
      expect((await get('/ray/api/version', { 'x-ray-authorization': `Bearer ${token}` })).status).toBe(200);
    });
  });
});
