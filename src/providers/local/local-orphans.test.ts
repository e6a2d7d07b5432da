import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { readProcStat } from '../../process/proc-stat.js';
import { pollUntil } from '../../wait/poll-until.js';
import { findLocalOrphans, stopLocalOrphan, type RecordedNodes } from './local-orphans.js';

const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid ?? 0), 'SIGKILL');
});

/** A process in a group of its own, as a node's `ray start` is, with the given variables. */
function processWith(env: Record<string, string>): ChildProcess {
  const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore', env: { ...process.env, ...env } });
  children.push(child);
  return child;
}

const nothingRecorded = (): RecordedNodes => ({ groups: new Set(), launching: new Set(), marker: { name: 'RAYFLEET_NODE_RECORD', startTicksByValue: new Map() } });

describe('local orphans', () => {
  it("finds a process with this cluster's id outside every recorded group, and never another cluster's or an accounted one", async () => {
    const id = randomUUID();
    const orphan = processWith({ RAYFLEET_CLUSTER_ID: id, RAY_CLOUD_INSTANCE_ID: 'c-worker-1' });
    processWith({ RAYFLEET_CLUSTER_ID: randomUUID(), RAY_CLOUD_INSTANCE_ID: 'c-worker-1' });
    processWith({ RAY_CLOUD_INSTANCE_ID: 'c-worker-1' });
    const recordedGroup = processWith({ RAYFLEET_CLUSTER_ID: id, RAY_CLOUD_INSTANCE_ID: 'c-worker-2' });
    const launching = processWith({ RAYFLEET_CLUSTER_ID: id, RAY_CLOUD_INSTANCE_ID: 'c-worker-3' });
    // A job driver in a session of its own, naming its live node's record and started after it.
    const driver = processWith({ RAYFLEET_CLUSTER_ID: id, RAY_CLOUD_INSTANCE_ID: 'c-worker-4', RAYFLEET_NODE_RECORD: '/state/nodes/c-worker-4.json' });
    await pollUntil(async () => (children.every((child) => readProcStat(child.pid ?? 0) !== undefined) ? true : undefined), { timeoutMs: 5_000, describe: () => 'the processes to start' });
    const recorded = nothingRecorded();
    recorded.groups.add(recordedGroup.pid ?? 0);
    recorded.launching.add('c-worker-3');
    recorded.marker.startTicksByValue.set('/state/nodes/c-worker-4.json', (readProcStat(driver.pid ?? 0)?.startTicks ?? 0) - 1);
    expect(launching.pid).toBeDefined();
    expect(findLocalOrphans(id, recorded)).toEqual([{ providerId: String(orphan.pid), name: 'c-worker-1', pids: [orphan.pid] }]);
    // The same driver started before its node's record is no child of that node: an orphan.
    recorded.marker.startTicksByValue.set('/state/nodes/c-worker-4.json', (readProcStat(driver.pid ?? 0)?.startTicks ?? 0) + 1);
    expect(findLocalOrphans(id, recorded).map((found) => found.name).sort()).toEqual(['c-worker-1', 'c-worker-4']);
  });

  it("stops an orphan's group, and only while it carries the id", async () => {
    const id = randomUUID();
    const orphan = processWith({ RAYFLEET_CLUSTER_ID: id });
    const other = processWith({ RAYFLEET_CLUSTER_ID: randomUUID() });
    await pollUntil(async () => (readProcStat(orphan.pid ?? 0) !== undefined ? true : undefined), { timeoutMs: 5_000, describe: () => 'the process to start' });
    const [found] = findLocalOrphans(id, nothingRecorded());
    expect(found).toBeDefined();
    // Handed another cluster's group under this id: nothing there carries it, nothing is signalled.
    await stopLocalOrphan({ providerId: String(other.pid), name: undefined, pids: [other.pid ?? 0] }, id, 1_000);
    await stopLocalOrphan(found ?? { providerId: '0', name: undefined, pids: [] }, id, 1_000);
    await pollUntil(async () => (orphan.exitCode !== null || orphan.signalCode !== null ? true : undefined), { timeoutMs: 5_000, describe: () => 'the orphan to end' });
    expect(other.exitCode === null && other.signalCode === null).toBe(true);
  });
});
