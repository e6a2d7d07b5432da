// End to end: jobs on a real local Ray cluster through the built CLI, and `rayfleet run` from nothing back to nothing.
import { mkdir, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobDetails } from '../src/ray/jobs-client.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';

const BIN = path.resolve(import.meta.dirname, '../bin/rayfleet.js');

const LINES = 2_000;
const RUNS = 10;

describe('jobs on a local cluster', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    // The head alone: a job's entrypoint runs beside it and needs no worker.
    cluster = await createTestCluster({ name: 'rfjob', workers: 0 });
    await cluster.up();
  });

  afterAll(async () => {
    await cluster.down();
  });

  it(`prints every one of ${LINES} lines in order, the last one included, and exits 0 (${RUNS} runs)`, async () => {
    const script = path.join(cluster.sandbox.dir, 'lines.py');
    // No flush between lines, and the last line written just before exit: what Ray's own CLI loses (#48701).
    await writeFile(script, `for i in range(${LINES}):\n    print(f"line {i:04d} of the job")\nprint("THE LAST LINE", end="")\n`);
    const expected = `${Array.from({ length: LINES }, (_, index) => `line ${String(index).padStart(4, '0')} of the job`).join('\n')}\nTHE LAST LINE\n`;
    for (let run = 1; run <= RUNS; run += 1) {
      const submitted = await cluster.run(['job', 'submit', '--', 'python', script]);
      expect(submitted.exitCode, `run ${run}: ${submitted.stderr}`).toBe(0);
      expect(`${submitted.stdout}\n`, `run ${run}`).toBe(expected);
      expect(submitted.stderr).toMatch(/job raysubmit_\w+ SUCCEEDED/);
    }
  });

  it("exits 1 for a failing job, with Ray's message and error type", async () => {
    const failed = await cluster.run(['job', 'submit', '--', 'python', '-c', 'import sys; print("about to fail"); sys.exit(3)']);
    expect(failed.exitCode).toBe(1);
    expect(failed.stdout).toBe('about to fail');
    expect(failed.stderr).toMatch(/error \[JOB_FAILED\]: job raysubmit_\w+ FAILED: Job entrypoint command failed with exit code 3/);
    expect(failed.stderr).toMatch(/error type: JOB_ENTRYPOINT_COMMAND_ERROR/);
  });

  it('returns the id with --no-wait; `job logs --follow` then streams to the end', async () => {
    const program = 'import time\nfor i in range(40):\n    print(f"tick {i}", flush=True)\n    time.sleep(0.05)\nprint("done")';
    const submitted = await cluster.run(['job', 'submit', '--no-wait', '--submission-id', 'rf-follow-1', '--', 'python', '-c', program]);
    expect(submitted.exitCode, submitted.stderr).toBe(0);
    expect(submitted.stdout).toBe('rf-follow-1');
    const followed = await cluster.run(['job', 'logs', 'rf-follow-1', '--follow']);
    expect(followed.exitCode, followed.stderr).toBe(0);
    expect(followed.stdout).toBe(`${Array.from({ length: 40 }, (_, index) => `tick ${index}`).join('\n')}\ndone`);
    const tail = await cluster.run(['job', 'logs', 'rf-follow-1', '--tail', '2']);
    expect(tail.stdout).toBe('tick 39\ndone');
    const status = await cluster.json<JobDetails>(['job', 'status', 'rf-follow-1']);
    expect(status.status).toBe('SUCCEEDED');
  });

  it('stops a running job; an ended job can then be deleted', async () => {
    const submitted = await cluster.run(['job', 'submit', '--no-wait', '--', 'python', '-c', 'import time; print("started", flush=True); time.sleep(600)']);
    const id = submitted.stdout.trim();
    await pollUntil(async () => ((await cluster.run(['job', 'logs', id])).stdout.includes('started') ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 300,
      describe: () => `${id} to start`,
    });
    const stopped = await cluster.run(['job', 'stop', id]);
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    expect(stopped.stdout).toBe(`job ${id} STOPPED`);
    expect((await cluster.json<JobDetails>(['job', 'status', id])).status).toBe('STOPPED');
    const list = await cluster.json<JobDetails[]>(['job', 'list']);
    expect(list.map((job) => job.submission_id)).toContain(id);
    expect((await cluster.run(['job', 'delete', id])).exitCode).toBe(0);
    const gone = await cluster.run(['job', 'status', id]);
    expect(gone.exitCode).toBe(3);
    expect(gone.stderr).toMatch(/JOB_NOT_FOUND/);
  });

  it('uploads a working dir without its .gitignored 200 MB file, and the job reads a file from it', async () => {
    const dir = path.join(cluster.sandbox.dir, 'project');
    await mkdir(path.join(dir, 'conf'), { recursive: true });
    await writeFile(path.join(dir, '.gitignore'), 'big.bin\n');
    await writeFile(path.join(dir, 'conf', 'greeting.txt'), 'hello from the working dir');
    await writeFile(path.join(dir, 'job.py'), 'import os\nprint(open("conf/greeting.txt").read())\nprint("big.bin here:", os.path.exists("big.bin"))\n');
    // Sparse: 200 MB on paper, nothing on disk, and never read (it is left out before anything is zipped).
    const big = await open(path.join(dir, 'big.bin'), 'w');
    await big.truncate(200_000_000);
    await big.close();
    const submitted = await cluster.run(['job', 'submit', '--working-dir', dir, '--', 'python job.py']);
    expect(submitted.exitCode, submitted.stderr).toBe(0);
    expect(submitted.stderr).toMatch(/uploaded .*project as gcs:\/\/_ray_pkg_[0-9a-f]{40}\.zip \(\d+ KiB\)/);
    expect(submitted.stdout).toBe('hello from the working dir\nbig.bin here: False');
  });

  it('journals every submit and every end it saw', async () => {
    const events = await cluster.json<Array<{ type: string; jobId?: string; status?: string }>>(['events']);
    const submits = events.filter((event) => event.type === 'job-submitted');
    const ends = events.filter((event) => event.type === 'job-ended');
    expect(submits.length).toBe(RUNS + 4);
    expect(ends.map((event) => event.status)).toEqual([...Array<string>(RUNS).fill('SUCCEEDED'), 'FAILED', 'SUCCEEDED', 'STOPPED', 'SUCCEEDED']);
  });
});

describe('rayfleet run', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    // The watcher on, as `run` brings it up by default.
    cluster = await createTestCluster({ name: 'rfrun', workers: 0, watcher: '{ enabled: true, interval: 1s }' });
  });

  afterAll(async () => {
    await cluster.down();
  });

  it("brings a cluster up from nothing, prints the job's output, leaves nothing behind and exits with the job's code", async () => {
    expect(cluster.leftOver()).toEqual([]);
    const started = Date.now();
    let firstLineAt: number | undefined;
    const child = execa(process.execPath, [BIN, ...cluster.args(['run', '--', 'python', '-c', 'print("hello from run"); print("second line")'])], {
      cwd: cluster.sandbox.dir,
      env: cluster.sandbox.env,
      reject: false,
      timeout: 240_000,
    });
    child.stdout?.once('data', () => (firstLineAt = Date.now()));
    const result = await child;
    const endedAt = Date.now();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe('hello from run\nsecond line');
    expect(result.stderr).toMatch(/cluster rfrun is down/);
    expect(cluster.leftOver()).toEqual([]);
    // The measure the README quotes: from nothing to the job's first line, and back to nothing.
    process.stderr.write(`[rayfleet run] first line after ${((firstLineAt ?? endedAt) - started) / 1000} s, back to nothing after ${(endedAt - started) / 1000} s\n`);
  });

  it('takes the cluster down on Ctrl-C while the job runs', async () => {
    const child = execa(process.execPath, [BIN, ...cluster.args(['run', '--', 'python', '-c', 'import time; print("running", flush=True); time.sleep(600)'])], {
      cwd: cluster.sandbox.dir,
      env: cluster.sandbox.env,
      reject: false,
      timeout: 240_000,
    });
    await new Promise<void>((resolve) => child.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('running') && resolve()));
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(result.stderr).toMatch(/interrupted: stopping cluster rfrun, and the job with it/);
    expect(result.stderr).toMatch(/cluster rfrun is down/);
    expect(cluster.leftOver()).toEqual([]);
  });

  it("exits 1 for a failed job and keeps the cluster with --keep; refuses to run on a cluster that is up already", async () => {
    const kept = await cluster.run(['run', '--keep', '--', 'python', '-c', 'import sys; sys.exit(2)']);
    expect(kept.exitCode).toBe(1);
    expect(kept.stderr).toMatch(/JOB_FAILED.*exit code 2/);
    expect(kept.stderr).toMatch(/cluster rfrun kept/);
    expect((await cluster.run(['status'])).exitCode).toBe(0);
    const again = await cluster.run(['run', '--', 'python', '-c', 'print(1)']);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/CLUSTER_EXISTS/);
    expect((await cluster.down()).exitCode).toBe(0);
    expect(cluster.leftOver()).toEqual([]);
  });
});
