// A stand-in `ray` for LocalProvider tests: a script in a venv-shaped directory that records its environment and stays up like `ray start --block`.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LocalProvider } from '../../src/providers/local/local-provider.js';
import type { LaunchRequest } from '../../src/providers/node-provider.js';

/**
 * Makes `<dir>/venv/bin/ray`. It writes its environment to `<dir>/env/<node>.env`, starts a child in its group,
 * and on SIGTERM stops the child and exits, unless FAKE_RAY_IGNORE_TERM is set (a node slow to stop: then both ignore it).
 */
export async function fakeRayCommand(dir: string): Promise<string> {
  const bin = path.join(dir, 'venv', 'bin');
  await mkdir(bin, { recursive: true });
  await mkdir(path.join(dir, 'env'), { recursive: true });
  await writeFile(path.join(dir, 'venv', 'pyvenv.cfg'), 'home = /usr/bin\n');
  const ray = path.join(bin, 'ray');
  await writeFile(
    ray,
    [
      '#!/bin/sh',
      `env > "${path.join(dir, 'env')}/$RAY_CLOUD_INSTANCE_ID.env.tmp" && mv "${path.join(dir, 'env')}/$RAY_CLOUD_INSTANCE_ID.env.tmp" "${path.join(dir, 'env')}/$RAY_CLOUD_INSTANCE_ID.env"`,
      // Ignored before the child starts, so the child ignores it too (a raylet waiting for a dead GCS).
      'if [ -n "$FAKE_RAY_IGNORE_TERM" ]; then trap "" TERM; fi',
      'sleep 300 &',
      'child=$!',
      'if [ -z "$FAKE_RAY_IGNORE_TERM" ]; then trap \'kill $child; exit 0\' TERM; fi',
      'wait $child',
      '',
    ].join('\n'),
  );
  await chmod(ray, 0o755);
  return ray;
}

export function localProvider(stateDir: string, rayCommand: string | (() => Promise<string>), options: { stopGraceMs?: number } = {}): LocalProvider {
  return new LocalProvider({
    stateDir,
    rayCommand: typeof rayCommand === 'string' ? async () => rayCommand : rayCommand,
    head: { gcsPort: 6379, dashboardPort: 8265, clientPort: 10001 },
    tempDir: path.join(stateDir, 'ray-tmp'),
    stopGraceMs: options.stopGraceMs ?? 300,
  });
}

export function workerRequest(name: string, index = 1): LaunchRequest {
  return { name, role: 'worker', group: 'worker', index, resources: { cpus: 1, gpus: 0, custom: {} }, env: { RAY_CLOUD_INSTANCE_ID: name, RAY_NODE_TYPE_NAME: 'worker' } };
}
