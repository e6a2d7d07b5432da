// End to end: the control plane (the built CLI's background dashboard) over a real local cluster with its watcher,
// through the REST API and in Debian's Chromium: the views, the stream, the controls and their refusals.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../src/wait/poll-until.js';
import { launchChromium, screenshot } from './browser/chromium.js';
import { ensureSchemathesis, runSchemathesis } from './support/schemathesis.js';
import { readSse } from './support/sse-events.js';
import { startDriver } from './support/drivers.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

const CLUSTER = 'rfd';
const TICK_MS = 500;

interface NodeRow {
  name: string;
  role: string;
  group: string;
  state: string;
  ray: { status: string; resources: Record<string, number>; available: Record<string, number> } | null;
}

interface JournalEvent {
  id: string;
  type: string;
  time: string;
  node?: string;
  reason?: string;
  cause?: string;
}

describe('the control plane on a local cluster', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let base: string;
  let token: string;
  let browser: Browser;
  let page: Page;
  const drivers: Array<{ kill: (signal?: NodeJS.Signals) => boolean }> = [];
  const api = (suffix: string, init: RequestInit = {}): Promise<Response> => fetch(`${base}/api/v1${suffix}`, init);
  const withToken = (init: RequestInit = {}): RequestInit => ({ ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...init.headers } });

  async function workers(): Promise<NodeRow[]> {
    const status = (await (await api(`/clusters/${CLUSTER}`)).json()) as { nodes: NodeRow[] };
    return status.nodes.filter((node) => node.role === 'worker');
  }

  async function events(type?: string): Promise<JournalEvent[]> {
    return ((await (await api(`/clusters/${CLUSTER}/events${type === undefined ? '' : `?type=${type}`}`)).json()) as { events: JournalEvent[] }).events;
  }

  async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
    return pollUntil(check, { timeoutMs, intervalMs: 250, describe: () => what });
  }

  const aliveInRay = (node: NodeRow): boolean => node.ray !== null && node.ray.status !== 'DEAD';
  const busy = (node: NodeRow): boolean => aliveInRay(node) && (node.ray?.available.CPU ?? 0) < 1;

  /** A Ray driver in the background running `count` one-CPU tasks of `seconds` each. */
  function startTasks(count: number, seconds: number): void {
    drivers.push(startDriver('one-cpu-tasks.py', [String(count), String(seconds)], { env, timeoutMs: 600_000 }));
  }

  beforeAll(async () => {
    cluster = await createTestCluster({ name: CLUSTER, workers: 0, max: 5, watcher: `{ interval: ${TICK_MS}ms, idleTimeout: 300s, maxWorkers: 6 }` });
    await cluster.up();
    env = await cluster.driverEnv();
    const started = await cluster.sandbox.run(['dashboard', '--background', '--port', '0']);
    if (started.exitCode !== 0) throw new Error(`dashboard failed: ${started.stderr}`);
    base = /http:\/\/127\.0\.0\.1:\d+/.exec(started.stdout)?.[0] ?? '';
    token = (await cluster.sandbox.run(['dashboard', '--token'])).stdout.trim();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });

  afterAll(async () => {
    for (const driver of drivers) driver.kill('SIGKILL');
    await browser?.close();
    await cluster?.sandbox.run(['dashboard', '--stop']);
    await cluster?.down();
  });

  it('answers a cluster with what `status --json` prints, and lists it', async () => {
    const fromCli = await cluster.json<{ nodes: NodeRow[]; address: string }>(['status']);
    const fromApi = (await (await api(`/clusters/${CLUSTER}`)).json()) as { nodes: NodeRow[]; address: string };
    const view = (nodes: NodeRow[]) => nodes.map((node) => [node.name, node.group, node.state, node.ray?.status === 'DEAD' ? 'DEAD' : node.ray === null ? null : 'alive']);
    expect(view(fromApi.nodes)).toEqual(view(fromCli.nodes));
    expect(fromApi.address).toBe(fromCli.address);
    const { clusters } = (await (await api('/clusters')).json()) as { clusters: Array<{ name: string; watcher: { running: boolean } }> };
    expect(clusters).toEqual([expect.objectContaining({ name: CLUSTER, watcher: expect.objectContaining({ running: true }) })]);
  });

  it('refuses: 401 without the token, 404 for an unknown cluster or node, 400 naming the field', async () => {
    const noToken = await api(`/clusters/${CLUSTER}/workers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"count":1}' });
    expect(noToken.status).toBe(401);
    expect((await api('/clusters/nope')).status).toBe(404);
    const noNode = await api(`/clusters/${CLUSTER}/workers/${CLUSTER}-worker-9`, withToken({ method: 'DELETE' }));
    expect(noNode.status).toBe(404);
    expect(await noNode.json()).toMatchObject({ code: 'NODE_NOT_FOUND' });
    const bad = await api(`/clusters/${CLUSTER}/workers`, withToken({ method: 'POST', body: '{"count":"two"}' }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ issues: [expect.objectContaining({ path: 'body.count' })] });
  });

  it('POST of 2 workers answers 202 with their names at once, the stream shows the launches within 500 ms, and 2 nodes join', async () => {
    const before = (await events()).at(-1)?.id;
    const stream = await api(`/clusters/${CLUSTER}/stream`, { headers: { 'last-event-id': before ?? '0' } });
    const posted = Date.now();
    const answer = await api(`/clusters/${CLUSTER}/workers`, withToken({ method: 'POST', body: JSON.stringify({ group: 'worker', count: 2 }) }));
    expect(answer.status).toBe(202);
    const { launching } = (await answer.json()) as { launching: string[] };
    const answeredAt = Date.now();
    expect(launching.sort()).toEqual([`${CLUSTER}-worker-1`, `${CLUSTER}-worker-2`]);
    // The launches are journaled before the answer; the stream passes them on within 500 ms of it.
    const seen = await readSse(stream, (all) => all.filter((event) => event.event === 'journal' && JSON.parse(event.data).type === 'launch').length >= 2);
    expect(Date.now() - answeredAt).toBeLessThan(500);
    expect(answeredAt - posted).toBeLessThan(10_000);
    const lastSeen = seen.filter((event) => event.event === 'journal').at(-1)?.id;
    await waitFor('both new workers alive in Ray', async () => ((await workers()).filter(aliveInRay).length === 2 ? true : undefined));
    // A reconnect naming the last event it saw gets what came since (the registrations), none twice.
    const resumed = await api(`/clusters/${CLUSTER}/stream`, { headers: { 'last-event-id': lastSeen ?? '' } });
    const after = await readSse(resumed, (all) => all.filter((event) => event.event === 'journal' && JSON.parse(event.data).type === 'registered').length >= 2);
    const journal = after.filter((event) => event.event === 'journal');
    expect(journal.every((event) => Number(event.id) > Number(lastSeen))).toBe(true);
    expect(new Set(journal.map((event) => event.id)).size).toBe(journal.length);
  });

  it('DELETE of a busy worker is 409 with Ray\'s reason and leaves it', async () => {
    startTasks(1, 600);
    const held = await waitFor('a worker busy with the held task', async () => (await workers()).find(busy));
    const refused = await api(`/clusters/${CLUSTER}/workers/${held.name}`, withToken({ method: 'DELETE' }));
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ code: 'NODE_BUSY', message: expect.stringContaining(held.name) });
    expect((await workers()).find((node) => node.name === held.name)?.state).toBe('running');
  });

  it('the overview lists the cluster; the cluster page shows each node and links to Ray\'s dashboard', async () => {
    await page.goto(base);
    await page.locator(`[data-testid=cluster-row][data-cluster=${CLUSTER}]`).waitFor();
    expect(await page.locator('[data-testid=cluster-row]').count()).toBe(1);
    await screenshot(page, 'overview');
    await page.goto(`${base}/clusters/${CLUSTER}`);
    const names = [`${CLUSTER}-head`, ...(await workers()).map((node) => node.name)];
    for (const name of names) await page.locator(`[data-testid=node-row][data-node=${name}]`).waitFor();
    expect(await page.locator('[data-testid=node-row]').count()).toBe(names.length);
    expect(await page.locator('[data-testid=ray-dashboard]').getAttribute('href')).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    await page.locator('[data-testid=live]', { hasText: 'live' }).waitFor();
    await screenshot(page, 'cluster');
  });

  it('removing the busy worker from the page asks the token once and shows the 409 reason', async () => {
    const held = (await workers()).find(busy);
    expect(held).toBeDefined();
    await page.locator(`[data-testid=remove-${held?.name}]`).click();
    await page.locator('[data-testid=token-input]').fill(token);
    await page.locator('[data-testid=token-ok]').click();
    await page.locator('[data-testid=message]', { hasText: 'NODE_BUSY' }).waitFor();
    expect(await page.locator('[data-testid=message]').textContent()).toContain('remove anyway');
    await screenshot(page, 'remove-busy-409');
    expect((await workers()).some((node) => node.name === held?.name)).toBe(true);
  });

  it('"add worker" with the token adds a node row that turns running, without a reload', async () => {
    // Marks this page load; a reload would lose the mark. (Strings: the test's own types have no DOM.)
    await page.evaluate('window.loadedOnce = true');
    const before = await page.locator('[data-testid=node-row]').count();
    await page.locator('[data-testid=add-count]').fill('1');
    await page.locator('[data-testid=add-group]').selectOption('worker');
    await page.locator('[data-testid=add-worker]').click();
    const added = `${CLUSTER}-worker-3`;
    await page.locator(`[data-testid=node-row][data-node=${added}]`).waitFor({ timeout: 30_000 });
    await page.locator(`[data-testid=node-row][data-node=${added}][data-ray=IDLE], [data-testid=node-row][data-node=${added}][data-ray=RUNNING]`).waitFor({ timeout: 90_000 });
    expect(await page.locator('[data-testid=node-row]').count()).toBe(before + 1);
    expect(await page.evaluate('window.loadedOnce')).toBe(true);
    // The token was asked once in this tab: no dialog this time.
    expect(await page.locator('[data-testid=token-dialog]').isVisible()).toBe(false);
    await screenshot(page, 'add-worker');
  });

  it('paused, a burst launches nothing and the timeline shows withheld: paused; resumed, the scale-up and its rows appear live', async () => {
    await page.locator('[data-testid=pause]').click();
    await page.locator('[data-testid=watcher-state][data-paused=true]').waitFor();
    const launchesBefore = (await events('launch')).length;
    const idle = (await workers()).filter((node) => aliveInRay(node) && !busy(node)).length;
    startTasks(idle + 1, 40);
    await page.locator('[data-testid=timeline-item][data-type=withheld]', { hasText: 'paused' }).first().waitFor({ timeout: 60_000 });
    expect(await page.locator('[data-testid=watcher-state]').textContent()).toContain('paused');
    expect((await events('launch')).length).toBe(launchesBefore);
    expect((await events('withheld')).some((event) => event.cause === 'paused')).toBe(true);
    await screenshot(page, 'paused-withheld');
    const rowsBefore = await page.locator('[data-testid=node-row]').count();
    await page.locator('[data-testid=pause]').click();
    await page.locator('[data-testid=watcher-state][data-paused=false]').waitFor();
    await page.locator('[data-testid=timeline-item][data-type=scale-up]').first().waitFor({ timeout: 30_000 });
    await expect.poll(() => page.locator('[data-testid=node-row]').count(), { timeout: 30_000 }).toBeGreaterThan(rowsBefore);
    expect(await page.locator('[data-testid=timeline-item][data-type=scale-up]').first().textContent()).toMatch(/pending|request|fit/i);
    expect(await page.evaluate('window.loadedOnce')).toBe(true);
    await screenshot(page, 'scale-up');
  });

  it("PATCH of a group's min: the watcher acts on it within two ticks", async () => {
    const current = (await workers()).filter((node) => node.state !== 'stopped').length;
    const patchedAt = Date.now();
    const answer = await api(`/clusters/${CLUSTER}/watcher`, withToken({ method: 'PATCH', body: JSON.stringify({ groups: [{ name: 'worker', min: current + 1, max: 5 }] }) }));
    expect(answer.status).toBe(200);
    const launch = await waitFor('a launch for the new min', async () => (await events('launch')).find((event) => Date.parse(event.time) >= patchedAt - 1000 && /min/.test(event.reason ?? '')), 20_000);
    expect(Date.parse(launch.time) - patchedAt).toBeLessThanOrEqual(2 * TICK_MS + 1500);
    expect((await events('spec-changed')).at(-1)).toMatchObject({ by: 'api' });
    await page.locator('[data-testid=group-row][data-group=worker]').waitFor();
    await page.reload();
    await page.locator(`[data-testid=min-worker]`).waitFor();
    expect(await page.locator('[data-testid=min-worker]').inputValue()).toBe(String(current + 1));
    await screenshot(page, 'min-changed');
  });

  it('schemathesis from the OpenAPI document: reads and error answers on the live cluster, no 5xx, every answer as documented', async () => {
    const schemathesis = await ensureSchemathesis();
    // Changes on a real cluster would launch and stop nodes at random: they are fuzzed without the token (their 401s and 405s).
    const common = ['--exclude-path-regex', '/stream$', '--exclude-checks', 'positive_data_acceptance,ignored_auth', '--workers', '2', '--suppress-health-check', 'all'];
    const reads = await runSchemathesis(schemathesis, `${base}/api/v1/openapi.json`, [...common, '--include-method', 'GET', '--max-time', '10']);
    expect(reads.exitCode, reads.output).toBe(0);
    const refusals = await runSchemathesis(schemathesis, `${base}/api/v1/openapi.json`, [...common, '--exclude-method', 'GET', '--max-time', '5']);
    expect(refusals.exitCode, refusals.output).toBe(0);
  });
});
