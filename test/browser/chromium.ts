// Debian's Chromium driven by playwright-core, which never downloads a browser: the flags that work here as root.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** The binary of the `chromium` package; RAYFLEET_CHROMIUM names another. */
export function chromiumPath(): string {
  const configured = process.env.RAYFLEET_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(configured)) throw new Error(`no Chromium at ${configured}: \`apt-get install chromium\` (.ci/run does), or set RAYFLEET_CHROMIUM`);
  return configured;
}

/** Headless, with a fresh profile of playwright's own (it refuses a --user-data-dir flag). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Where the views' screenshots go: test-results/dashboard, ignored by git. */
export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../../test-results/dashboard');

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
