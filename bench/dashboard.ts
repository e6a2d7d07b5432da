// bench:dashboard: the built CLI's dashboard over 3 stand-in clusters, measured in Debian's Chromium: page load to the
// first meaningful paint, journal append to browser latency (median, p95 over 100 events), and the server's RSS.
import { execa } from 'execa';
import { appendFile, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeClusterRecord } from '../src/fleet/cluster-record.js';
import { findFreePort } from '../src/net/ports.js';
import { clusterSpecSchema } from '../src/spec/schema.js';
import { ObservationHistory } from '../src/watcher/observation-history.js';
import { launchChromium, screenshot } from '../test/browser/chromium.js';

const BIN = path.resolve(import.meta.dirname, '../bin/rayfleet.js');
const CLUSTERS = ['bench-a', 'bench-b', 'bench-c'];
const EVENTS_PER_JOURNAL = 5_000;
const LOADS = 10;
const LATENCY_EVENTS = 100;

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** A cluster as `up` leaves it, Ray not reachable (its GCS port is free): a record, a journal, a day of history. */
async function standInCluster(home: string, name: string): Promise<string> {
  const dir = path.join(home, 'clusters', name);
  const spec = clusterSpecSchema.parse({ name, workerGroups: [{ name: 'worker', min: 0, max: 10 }], watcher: { enabled: false } });
  await writeClusterRecord(path.join(dir, 'cluster.json'), {
    createdAt: new Date().toISOString(),
    spec,
    ports: { gcsPort: await findFreePort(), dashboardPort: await findFreePort(), clientPort: await findFreePort(), servePort: await findFreePort(), portOffset: 0 },
  });
  const start = Date.now() - 24 * 3_600_000;
  const lines: string[] = [];
  for (let i = 0; i < EVENTS_PER_JOURNAL; i += 1) {
    const time = new Date(start + i * 17_000).toISOString();
    lines.push(JSON.stringify({ v: 1, time, cluster: name, type: 'scale-up', group: 'worker', count: 1, reason: `pending {CPU: 1}×${i % 9} → 1 new worker node(s)`, numbers: { pending: i % 9 } }));
  }
  await appendFile(path.join(dir, 'journal.jsonl'), `${lines.join('\n')}\n`);
  const history = await ObservationHistory.open(dir, start);
  for (let second = 0; second < 24 * 3600; second += 1) {
    await history.append({ atMs: start + second * 1000, values: { 'nodes/worker/registered': 10 - ((second >> 6) % 3), 'demand/{CPU: 1}': (second >> 5) % 7 } });
  }
  return dir;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

async function main(): Promise<void> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'rf-bench-dash-'));
  await mkdir(home, { recursive: true });
  const dirs = await Promise.all(CLUSTERS.map((name) => standInCluster(home, name)));
  const env = { ...process.env, RAYFLEET_HOME: home };
  const started = await execa(process.execPath, [BIN, 'dashboard', '--background', '--port', '0'], { env });
  const url = /http:\/\/[^\s]+/.exec(started.stdout)?.[0] ?? '';
  const pid = Number(/pid (\d+)/.exec(started.stdout)?.[1]);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const loads: number[] = [];
    const paints: number[] = [];
    for (let i = 0; i < LOADS; i += 1) {
      await page.goto(`${url}/clusters/${CLUSTERS[0]}`);
      await page.locator('[data-testid=timeline-item]').first().waitFor();
      // Navigation start to the timeline's first row: the first paint that shows the cluster's data.
      loads.push(Number(await page.evaluate('performance.now()')));
      paints.push(Number(await page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN")));
    }
    await page.locator('[data-testid=live]', { hasText: 'live' }).waitFor();
    // Each new timeline row is stamped with the wall clock the moment it is in the DOM.
    await page.evaluate(`(() => {
      window.seenAt = {};
      new MutationObserver(() => {
        for (const row of document.querySelectorAll('[data-testid=timeline-item]')) {
          const match = /bench-(\\d+)/.exec(row.textContent || '');
          if (match && !(match[1] in window.seenAt)) window.seenAt[match[1]] = Date.now();
        }
      }).observe(document.getElementById('timeline'), { childList: true, subtree: true });
    })()`);
    const others = await Promise.all(CLUSTERS.slice(1).map(async (name) => {
      const tab = await browser.newPage();
      await tab.goto(`${url}/clusters/${name}`);
      return tab;
    }));
    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_EVENTS; i += 1) {
      const writtenAt = Date.now();
      const line = { v: 1, time: new Date(writtenAt).toISOString(), cluster: CLUSTERS[0], type: 'watcher', reason: `bench-${i}` };
      await appendFile(path.join(dirs[0] as string, 'journal.jsonl'), `${JSON.stringify(line)}\n`);
      // A function, not a string: the page's CSP forbids eval, which a string predicate needs.
      await page.waitForFunction((index) => (globalThis as unknown as { seenAt: Record<number, number> }).seenAt[index] !== undefined, i, { polling: 10, timeout: 10_000 });
      latencies.push(Number(await page.evaluate(`window.seenAt[${i}]`)) - writtenAt);
    }
    await page.locator('[data-testid=nodes-chart] canvas').waitFor();
    await screenshot(page, 'bench-cluster-with-history');
    const rss = await rssMb(pid);
    process.stdout.write(
      [
        `page load to first meaningful paint (timeline rows, ${EVENTS_PER_JOURNAL}-event journal, 24 h history): median ${quantile(loads, 0.5).toFixed(0)} ms, p95 ${quantile(loads, 0.95).toFixed(0)} ms (first contentful paint: median ${quantile(paints, 0.5).toFixed(0)} ms)`,
        `journal append to browser over ${LATENCY_EVENTS} events: median ${quantile(latencies, 0.5).toFixed(0)} ms, p95 ${quantile(latencies, 0.95).toFixed(0)} ms`,
        `dashboard RSS with ${CLUSTERS.length} clusters, ${CLUSTERS.length} tabs streaming: ${rss.toFixed(0)} MB`,
        '',
      ].join('\n'),
    );
    await Promise.all(others.map((tab) => tab.close()));
  } finally {
    await browser.close();
    await execa(process.execPath, [BIN, 'dashboard', '--stop'], { env, reject: false });
  }
}

await main();
