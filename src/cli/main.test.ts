// The program's own answers: --version is rayfleet's version, whatever npm project it runs in.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from './main.js';

const { version } = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('rayfleet --version', () => {
  it("prints rayfleet's package.json version, not npm_package_version (the version of the npm project run in)", async () => {
    vi.stubEnv('npm_package_version', '9.9.9');
    const out: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => out.push(String(chunk)) > 0);
    try {
      expect(await runCli(['node', 'rayfleet', '--version'])).toBe(0);
    } finally {
      stdout.mockRestore();
    }
    expect(out.join('')).toBe(`${version}\n`);
  });
});
