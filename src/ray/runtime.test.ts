import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rayfleetErrorOf } from '../../test/support/caught.js';
import { ensureRuntime } from './runtime.js';

let cacheDir: string;
beforeAll(async () => {
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-runtime-'));
});
afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

describe('ensureRuntime', () => {
  it('says PYTHON_NOT_FOUND, and what to do, when there is no python3', async () => {
    const previous = process.env.RAYFLEET_BOOTSTRAP_PYTHON;
    process.env.RAYFLEET_BOOTSTRAP_PYTHON = path.join(cacheDir, 'no-such-python');
    try {
      const error = await rayfleetErrorOf(() => ensureRuntime({ rayVersion: '2.60.0', cacheDir }));
      expect(error.code).toBe('PYTHON_NOT_FOUND');
      expect(error.details).toMatch(/RAYFLEET_PYTHON/);
    } finally {
      if (previous === undefined) delete process.env.RAYFLEET_BOOTSTRAP_PYTHON;
      else process.env.RAYFLEET_BOOTSTRAP_PYTHON = previous;
    }
  });

  it("says RUNTIME_INSTALL_FAILED with the tail of pip's output when pip fails", async () => {
    const error = await rayfleetErrorOf(() => ensureRuntime({ rayVersion: '0.0.0', cacheDir }));
    expect(error.code).toBe('RUNTIME_INSTALL_FAILED');
    expect(error.message).toMatch(/pip install .*ray\[default,serve\]==0\.0\.0/);
    expect(error.details).toMatch(/ray\[default,serve\]==0\.0\.0|No matching distribution/);
  }, 120_000);

  it('says RAY_NOT_INSTALLED for a named interpreter without Ray', async () => {
    const error = await rayfleetErrorOf(() => ensureRuntime({ rayVersion: '2.60.0', python: 'python3', cacheDir }));
    expect(error.code).toBe('RAY_NOT_INSTALLED');
    expect(error.details).toMatch(/ray\.python/);
  });
});
