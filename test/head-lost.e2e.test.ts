// End to end, real Ray: a cluster whose GCS dies is seen as lost within seconds, with the GCS log's tail, so the file
// stops there instead of timing out test after test.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../src/wait/poll-until.js';
import { headSupervised, lostHead } from './support/head-watch.js';
import { processesOfNodes } from './support/processes.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

describe('a test cluster whose GCS is killed', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await createTestCluster({ name: 'rfl' });
    await cluster.up();
  });

  afterAll(async () => {
    await cluster.down();
  });

  it('ends a wait given headLost within seconds, with the GCS log tail, and names the loss for the tests after it', async () => {
    // `up` is done once Ray shows the head; `ray start` reports a dead process only from its watching loop, after that.
    const stateDir = path.join(cluster.sandbox.env.RAYFLEET_HOME ?? '', 'clusters', 'rfl');
    await pollUntil(async () => (headSupervised('rfl', stateDir) ? true : undefined), { timeoutMs: 60_000, intervalMs: 200, describe: () => "the head's ray start watching its processes" });
    const gcs = processesOfNodes(['rfl-head']).filter((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'gcs_server');
    expect(gcs).toHaveLength(1);
    const killedAt = Date.now();
    process.kill(gcs[0] ?? 0, 'SIGKILL');
    const waited = pollUntil(async () => undefined, { timeoutMs: 120_000, intervalMs: 500, signal: cluster.headLost, describe: () => 'what never comes' });
    await expect(waited).rejects.toThrow();
    expect(String(cluster.headLost.reason)).toMatch(/the head of cluster rfl is gone[\s\S]*gcs_server\.out/);
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    expect(lostHead()?.message).toMatch(/the head of cluster rfl is gone/);
  });
});
