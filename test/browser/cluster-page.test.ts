// The dashboard page in Chromium against a stand-in control plane (no Ray): the overview, the cluster view, and the
// window its charts span. Screenshots go to test-results/dashboard.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboardServer, type DashboardServer } from '../../src/server/dashboard-server.js';
import { launchChromium, screenshot } from './chromium.js';
import { StandInClusterControl } from './stand-in-cluster-control.js';

const MINUTE_MS = 60_000;
const TOKEN = 'b'.repeat(64);

describe('the dashboard page', () => {
  const control = new StandInClusterControl();
  let server: DashboardServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  /** How far back the page's last history request reached, in minutes. */
  function lastWindowMinutes(): number | undefined {
    const since = control.historyQueries.at(-1)?.sinceMs;
    return since === undefined ? undefined : Math.round((Date.now() - since) / MINUTE_MS);
  }

  beforeAll(async () => {
    // The page as the build makes it, so the test sees the sources it runs with.
    await promisify(execFile)(process.execPath, ['scripts/bundle-page.mjs'], { cwd: path.resolve(import.meta.dirname, '../..') });
    server = await startDashboardServer({ host: '127.0.0.1', port: 0, token: TOKEN, control, snapshotIntervalMs: 200 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 60_000);

  afterAll(async () => {
    expect(pageErrors).toEqual([]);
    await browser?.close();
    await server?.close();
  });

  it('lists the cluster on the overview', async () => {
    await page.goto(`${server.url}/`);
    await expect.poll(() => page.getByTestId('cluster-row').count()).toBe(1);
    await screenshot(page, 'overview');
  });

  it("shows the cluster's groups, nodes and decisions, its charts over the last 15 minutes", async () => {
    await page.goto(`${server.url}/clusters/${control.name}`);
    await expect.poll(() => page.getByTestId('node-row').count()).toBe(3);
    await expect.poll(() => page.getByTestId('group-row').count()).toBe(2);
    await expect.poll(() => page.getByTestId('timeline-item').count()).toBe(5);
    await expect.poll(lastWindowMinutes).toBe(15);
    expect(await page.getByTestId('chart-window').inputValue()).toBe('15m');
    // The earlier cluster of the same name ran hours ago: its group has no line in this window.
    await expect.poll(() => page.getByTestId('nodes-chart').locator('.u-legend').textContent()).toContain('worker registered');
    expect(await page.getByTestId('nodes-chart').locator('.u-legend').textContent()).not.toContain('big');
    await screenshot(page, 'cluster');
  });

  it('widens the charts to the window chosen, the earlier cluster in it', async () => {
    await page.getByTestId('chart-window').selectOption('6h');
    await expect.poll(lastWindowMinutes).toBe(360);
    await expect.poll(() => page.getByTestId('nodes-chart').locator('.u-legend').textContent()).toContain('big registered');
    await screenshot(page, 'cluster-6h');
  });

  it("saves a group's new max with the token the page asks for once", async () => {
    await page.getByTestId('max-worker').fill('4');
    await page.getByTestId('save-worker').click();
    await page.getByTestId('token-input').fill(TOKEN);
    await page.getByTestId('token-ok').click();
    await expect.poll(() => page.getByTestId('message').textContent()).toContain('group worker: min 1, max 4');
    expect(control.settingsChanges).toEqual([{ groups: [{ name: 'worker', min: 1, max: 4 }] }]);
  });
});
