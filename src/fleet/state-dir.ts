// Where a cluster keeps what must outlive a command: its saved spec, node records, logs, journal and token.
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import envPaths from 'env-paths';
import { readEnv } from '../environment.js';

/** The root of every cluster's state: RAYFLEET_HOME, else the user's state dir. */
export function rayfleetHome(): string {
  return readEnv('RAYFLEET_HOME') ?? envPaths('rayfleet', { suffix: '' }).data;
}

export function clusterStateDir(cluster: string, configured?: string): string {
  return configured ?? path.join(rayfleetHome(), 'clusters', cluster);
}

export interface ClusterPaths {
  root: string;
  clusterFile: string;
  journal: string;
  authToken: string;
  launchLock: string;
  /** Ray's temp dirs, one per node below this: short and under /tmp, because Ray puts unix sockets in them and those paths are capped at 107 bytes. */
  rayTempDir: string;
}

export function clusterPaths(stateDir: string): ClusterPaths {
  const digest = createHash('sha256').update(path.resolve(stateDir)).digest('hex').slice(0, 8);
  return {
    root: stateDir,
    clusterFile: path.join(stateDir, 'cluster.json'),
    journal: path.join(stateDir, 'journal.jsonl'),
    authToken: path.join(stateDir, 'auth_token'),
    launchLock: path.join(stateDir, 'launch.lock'),
    rayTempDir: path.join(os.tmpdir(), `rf-${digest}`),
  };
}

/** The clusters that are up under RAYFLEET_HOME (those whose state lives elsewhere, by provider.stateDir, are not listed). */
export async function clustersUpHere(): Promise<string[]> {
  const root = path.join(rayfleetHome(), 'clusters');
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  // A link to a cluster's directory counts: the dashboard in a CML head has a home that links its one cluster.
  const up = await Promise.all(
    entries.filter((entry) => entry.isDirectory() || entry.isSymbolicLink()).map(async (entry) => ((await stat(clusterPaths(path.join(root, entry.name)).clusterFile).catch(() => undefined)) === undefined ? undefined : entry.name)),
  );
  return up.filter((name) => name !== undefined).sort();
}
