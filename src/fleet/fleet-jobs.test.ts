import { DashboardClient } from '../ray/dashboard-client.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rayfleetErrorOf } from '../../test/support/caught.js';
import { StandInDashboard, STAND_IN_TOKEN, type StandInJob } from '../../test/support/ray-dashboard-stand-in.js';
import { DRIVER_NODE_DIED, entrypointOf, FleetJobs } from './fleet-jobs.js';
import type { WorkEvent } from './work-context.js';

let api: StandInDashboard;
let baseUrl: string;
let events: WorkEvent[];
let dir: string;

function jobs(): FleetJobs {
  return new FleetJobs(
    {
      cluster: 'ray',
      dashboard: async () => new DashboardClient({ baseUrl, authToken: STAND_IN_TOKEN }),
      record: async (event) => void events.push(event),
    },
    { pollIntervalMs: 5, unreachableForMs: 300 },
  );
}

beforeAll(async () => {
  api = new StandInDashboard();
  baseUrl = await api.start();
});
afterAll(async () => {
  await api.stop();
});
beforeEach(async () => {
  api.jobs.clear();
  api.packages.clear();
  api.seen.length = 0;
  api.nextAnswers.length = 0;
  api.onStatusPoll = () => undefined;
  events = [];
  dir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-jobs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A job whose log grows by a step at each status poll; the last step ends it, with lines written after the last running poll. */
function growingJob(steps: string[], endStatus: 'SUCCEEDED' | 'FAILED' = 'SUCCEEDED'): StandInJob {
  const job = api.addJob('raysubmit_grow', 'RUNNING');
  let step = 0;
  api.onStatusPoll = (polled) => {
    if (step < steps.length) polled.logs += steps[step] ?? '';
    step += 1;
    if (step >= steps.length) {
      polled.details.status = endStatus;
      polled.details.end_time = 3_500;
    }
  };
  return job;
}

describe('FleetJobs.follow', () => {
  it('writes every character once, in order, whole lines while running, and the rest once the job has ended', async () => {
    growingJob(['line 1\nline 2\npart', 'ial 3\n', '', 'line 4\nlast line without newline']);
    const writes: string[] = [];
    const ended = await jobs().follow('raysubmit_grow', { write: (text) => writes.push(text), submittedHere: true });
    expect(ended.status).toBe('SUCCEEDED');
    expect(writes.join('')).toBe('line 1\nline 2\npartial 3\nline 4\nlast line without newline');
    expect(writes.slice(0, -1).every((text) => text.endsWith('\n'))).toBe(true);
    expect(writes).toContain('line 1\nline 2\n');
    expect(events).toEqual([{ type: 'job-ended', jobId: 'raysubmit_grow', status: 'SUCCEEDED', reason: 'succeeded after 2.5 s' }]);
  });

  it('loses no line of a long log that grows between every poll', async () => {
    const lines = Array.from({ length: 2_000 }, (_, index) => `line ${index + 1}\n`);
    const steps: string[] = [];
    for (let at = 0; at < lines.length; at += 137) steps.push(lines.slice(at, at + 137).join(''));
    steps.push('THE LAST LINE\n');
    growingJob(steps);
    let written = '';
    await jobs().follow('raysubmit_grow', { write: (text) => (written += text) });
    expect(written).toBe(`${lines.join('')}THE LAST LINE\n`);
  });

  it("returns a failed job with Ray's message and error type, and journals its end only when it saw it happen", async () => {
    const job = growingJob(['Traceback...\nValueError: boom\n'], 'FAILED');
    job.details.message = 'Job entrypoint command failed with exit code 1';
    job.details.error_type = 'JOB_ENTRYPOINT_COMMAND_ERROR';
    job.details.driver_exit_code = 1;
    const ended = await jobs().follow('raysubmit_grow', { write: () => undefined });
    expect(ended).toMatchObject({ status: 'FAILED', error_type: 'JOB_ENTRYPOINT_COMMAND_ERROR' });
    expect(events).toEqual([]);
    api.addJob('raysubmit_run', 'RUNNING');
    api.onStatusPoll = (polled) => {
      polled.details.status = 'FAILED';
      polled.details.message = 'Job entrypoint command failed with exit code 1';
      polled.details.error_type = 'JOB_ENTRYPOINT_COMMAND_ERROR';
      polled.details.driver_exit_code = 1;
    };
    await jobs().follow('raysubmit_run', { write: () => undefined, submittedHere: true });
    expect(events).toEqual([
      {
        type: 'job-ended',
        jobId: 'raysubmit_run',
        status: 'FAILED',
        reason: 'failed, exit code 1 (JOB_ENTRYPOINT_COMMAND_ERROR: Job entrypoint command failed with exit code 1)',
      },
    ]);
  });

  it('starts after an offset: a follower resuming, or --tail', async () => {
    api.addJob('raysubmit_done', 'SUCCEEDED', 'one\ntwo\nthree\n');
    let written = '';
    await jobs().follow('raysubmit_done', { write: (text) => (written += text), fromOffset: 4 });
    expect(written).toBe('two\nthree\n');
  });

  it("shows FAILED, saying why, a job Ray still calls RUNNING whose driver's node Ray has DEAD (a head that died and came back)", async () => {
    const onDeadHead = api.addJob('raysubmit_on_old_head', 'RUNNING');
    onDeadHead.details.driver_node_id = 'old-head';
    onDeadHead.details.message = 'Job is currently running.';
    api.addJob('raysubmit_on_worker', 'RUNNING').details.driver_node_id = 'live-worker';
    const asked: string[] = [];
    const reconciled = new FleetJobs(
      {
        cluster: 'ray',
        dashboard: async () => new DashboardClient({ baseUrl, authToken: STAND_IN_TOKEN }),
        record: async () => undefined,
        deadRayNode: async (node) => {
          asked.push(node);
          return node === 'old-head' ? 'ray-head' : undefined;
        },
      },
      { pollIntervalMs: 5, unreachableForMs: 300 },
    );
    const shown = await reconciled.status('raysubmit_on_old_head');
    expect(shown.status).toBe('FAILED');
    expect(shown.error_type).toBe(DRIVER_NODE_DIED);
    expect(shown.message).toBe('the node its driver ran on (ray-head) is DEAD in Ray, which still reports the job RUNNING ("Job is currently running.")');
    expect((await reconciled.status('raysubmit_on_worker')).status).toBe('RUNNING');
    expect((await reconciled.list()).map((job) => [job.submission_id, job.status]).sort()).toEqual([
      ['raysubmit_on_old_head', 'FAILED'],
      ['raysubmit_on_worker', 'RUNNING'],
    ]);
    // A follower ends with it rather than following a job that can no longer end.
    let written = '';
    expect((await reconciled.follow('raysubmit_on_old_head', { write: (text) => (written += text) })).status).toBe('FAILED');
    expect(asked).toContain('live-worker');
  });

  it("reads a driver's own log file where the backend knows one fuller than Ray's answer (a local worker-node driver)", async () => {
    const job = api.addJob('raysubmit_worker', 'SUCCEEDED', 'Runtime env is setting up.\n');
    job.details.driver_node_id = 'abc123';
    const file = path.join(dir, 'job-driver-raysubmit_worker.log');
    await writeFile(file, 'Runtime env is setting up.\nfrom the worker\nlast line\n');
    const asked: string[] = [];
    const local = new FleetJobs(
      {
        cluster: 'ray',
        dashboard: async () => new DashboardClient({ baseUrl, authToken: STAND_IN_TOKEN }),
        record: async () => undefined,
        driverLogFile: async (node, submission) => {
          asked.push(`${node} ${submission}`);
          return file;
        },
      },
      { pollIntervalMs: 5, unreachableForMs: 300 },
    );
    let written = '';
    await local.follow('raysubmit_worker', { write: (text) => (written += text) });
    expect(written).toBe('Runtime env is setting up.\nfrom the worker\nlast line\n');
    expect(await local.logs('raysubmit_worker')).toBe(written);
    // Asked once for the job, not at every poll.
    expect(asked).toEqual(['abc123 raysubmit_worker']);
    // Without such a file (another backend, or the node's session gone), Ray's answer is the log.
    expect(await jobs().logs('raysubmit_worker')).toBe('Runtime env is setting up.\n');
  });

  it('asks again when the dashboard misses a poll, and gives up when Ray stays unreachable', async () => {
    growingJob(['a\n', 'b\n']);
    api.nextAnswers.push({ status: 503, body: 'starting' });
    let written = '';
    await jobs().follow('raysubmit_grow', { write: (text) => (written += text) });
    expect(written).toBe('a\nb\n');
    api.addJob('raysubmit_forever', 'RUNNING');
    for (let index = 0; index < 1_000; index += 1) api.nextAnswers.push({ status: 502, body: 'bad gateway' });
    const error = await rayfleetErrorOf(() => jobs().follow('raysubmit_forever', { write: () => undefined }));
    expect(error.code).toBe('RAY_REQUEST_FAILED');
    expect(error.message).toMatch(/answered 502/);
    // The status is data on the error: asking again is decided on it, not on the message's words.
    expect(error).toMatchObject({ status: 502 });
  });

  it('is JOB_NOT_FOUND at once for a job Ray does not know', async () => {
    const error = await rayfleetErrorOf(() => jobs().follow('raysubmit_nope', { write: () => undefined }));
    expect(error.code).toBe('JOB_NOT_FOUND');
    expect(error.exitCode).toBe(3);
    expect(error.message).toMatch(/no job raysubmit_nope .*does not exist/);
  });

  it('stops following when the caller aborts, with its reason', async () => {
    api.addJob('raysubmit_long', 'RUNNING');
    const controller = new AbortController();
    api.onStatusPoll = () => controller.abort(new Error('interrupted'));
    await expect(jobs().follow('raysubmit_long', { write: () => undefined, signal: controller.signal })).rejects.toThrow('interrupted');
  });
});

describe('FleetJobs.submit', () => {
  it("uploads a local working dir as a package, names it in the runtime env by its gcs:// URI, and journals the submit", async () => {
    await writeFile(path.join(dir, 'job.py'), 'print(open("data.txt").read())');
    await writeFile(path.join(dir, 'data.txt'), 'hello');
    const submitted = await jobs().submit({
      entrypoint: 'python job.py',
      workingDir: dir,
      runtimeEnv: { env_vars: { A: '1' }, working_dir: 's3://replaced/by/the/flag.zip' },
      entrypointNumCpus: 1,
      metadata: { owner: 'me' },
    });
    const [upload] = submitted.uploaded;
    expect(upload?.uri).toMatch(/^gcs:\/\/_ray_pkg_[0-9a-f]{40}\.zip$/);
    const name = upload?.uri.slice('gcs://'.length) ?? '';
    const zipFile = path.join(dir, '..', `${path.basename(dir)}.zip`);
    await writeFile(zipFile, api.packages.get(name) ?? Buffer.alloc(0));
    const { stdout } = await execa('python3', ['-c', 'import sys, zipfile; print(sorted(zipfile.ZipFile(sys.argv[1]).namelist()))', zipFile]);
    await rm(zipFile);
    expect(stdout).toBe("['data.txt', 'job.py']");
    const submit = api.seen.find((request) => request.method === 'POST' && request.url === '/api/jobs/');
    expect(JSON.parse(submit?.body.toString() ?? '{}')).toEqual({
      entrypoint: 'python job.py',
      runtime_env: { env_vars: { A: '1' }, working_dir: upload?.uri },
      metadata: { owner: 'me' },
      entrypoint_num_cpus: 1,
    });
    expect(submit?.authorization).toBe(`Bearer ${STAND_IN_TOKEN}`);
    expect(events).toEqual([
      { type: 'job-submitted', jobId: submitted.submissionId, entrypoint: 'python job.py', reason: `submitted to ray asking 1 CPU, ${dir} as ${upload?.uri}` },
    ]);
  });

  it('does not upload a package the cluster has already, and sends a remote working dir as it is', async () => {
    await writeFile(path.join(dir, 'job.py'), 'print(1)');
    const first = await jobs().submit({ entrypoint: 'python job.py', workingDir: dir });
    const puts = () => api.seen.filter((request) => request.method === 'PUT').length;
    expect(puts()).toBe(1);
    await jobs().submit({ entrypoint: 'python job.py', workingDir: dir });
    expect(puts()).toBe(1);
    await jobs().submit({ entrypoint: 'python job.py', workingDir: 'https://example.invalid/code.zip' });
    expect(puts()).toBe(1);
    const last = api.seen.filter((request) => request.url === '/api/jobs/' && request.method === 'POST').at(-1);
    expect(JSON.parse(last?.body.toString() ?? '{}').runtime_env).toEqual({ working_dir: 'https://example.invalid/code.zip' });
    expect(first.uploaded).toHaveLength(1);
  });

  it('uploads local py_modules under their own folder name, relative to the base dir', async () => {
    await mkdir(path.join(dir, 'helpers'));
    await writeFile(path.join(dir, 'helpers', '__init__.py'), 'X = 1');
    const submitted = await jobs().submit({ entrypoint: 'python -c "import helpers"', runtimeEnv: { py_modules: ['helpers', 's3://bucket/m.zip'] }, baseDir: dir });
    const submit = api.seen.find((request) => request.method === 'POST');
    expect(JSON.parse(submit?.body.toString() ?? '{}').runtime_env.py_modules).toEqual([submitted.uploaded[0]?.uri, 's3://bucket/m.zip']);
  });

  it('refuses a working dir that is not there before anything is sent', async () => {
    const error = await rayfleetErrorOf(() =>
      new FleetJobs({ cluster: 'ray', dashboard: async () => new DashboardClient({ baseUrl, authToken: STAND_IN_TOKEN }), record: async () => undefined }).submit({
        entrypoint: 'python x.py',
        runtimeEnv: { working_dir: path.join(dir, 'missing') },
      }),
    );
    expect(error.code).toBe('USAGE');
    expect(api.seen).toEqual([]);
  });

  it("shows Ray's own message when it refuses the submit", async () => {
    api.nextAnswers.push({ status: 400, body: 'Traceback (most recent call last):\n  File "x"\nValueError: runtime_env field "pip" is bad' });
    const error = await rayfleetErrorOf(() => jobs().submit({ entrypoint: 'python x.py' }));
    expect(error.code).toBe('RAY_REQUEST_FAILED');
    expect(error.message).toMatch(/answered 400 to POST \/api\/jobs\/ \(ValueError: runtime_env field "pip" is bad\)$/);
  });

  it("asks again while Ray says the head's job agent is not up yet, and submits the job once; another 500 is not asked again", async () => {
    const notYet = { status: 500, body: 'No available agent to submit job, please try again later.' };
    api.nextAnswers.push(notYet, notYet);
    const submitted = await jobs().submit({ entrypoint: 'python x.py' });
    const posts = (): number => api.seen.filter((request) => request.method === 'POST' && request.url === '/api/jobs/').length;
    // Asked three times, one job made.
    expect(posts()).toBe(3);
    expect([...api.jobs.keys()]).toEqual([submitted.submissionId]);
    expect(api.jobs.get(submitted.submissionId)?.details.entrypoint).toBe('python x.py');
    api.nextAnswers.push({ status: 500, body: 'Traceback (most recent call last):\nRuntimeError: the job manager failed' });
    const error = await rayfleetErrorOf(() => jobs().submit({ entrypoint: 'python y.py' }));
    expect(error.message).toMatch(/answered 500 to POST \/api\/jobs\/ \(RuntimeError: the job manager failed\)$/);
    expect(posts()).toBe(4);
  });
});

describe('FleetJobs.stop and delete', () => {
  it('stops a running job and waits until Ray says STOPPED, journalling the end; --no-wait returns at once', async () => {
    api.addJob('raysubmit_a', 'RUNNING');
    expect((await jobs().stop('raysubmit_a')).status).toBe('STOPPED');
    expect(events.map((event) => event.type === 'job-ended' && event.status)).toEqual(['STOPPED']);
    api.addJob('raysubmit_b', 'RUNNING');
    expect((await jobs().stop('raysubmit_b', { wait: false })).status).toBe('RUNNING');
  });

  it('refuses to delete a running job, and deletes an ended one', async () => {
    api.addJob('raysubmit_a', 'RUNNING');
    expect((await rayfleetErrorOf(() => jobs().delete('raysubmit_a'))).details).toMatch(/rayfleet job stop raysubmit_a -c ray/);
    api.addJob('raysubmit_b', 'SUCCEEDED');
    await jobs().delete('raysubmit_b');
    expect(api.jobs.has('raysubmit_b')).toBe(false);
  });

  it('deletes again a job that came back right after its delete, until Ray says it is gone', async () => {
    const stopped = api.addJob('raysubmit_c', 'STOPPED');
    let comebacks = 0;
    api.afterJobDelete = (job) => {
      if (comebacks++ === 0) api.jobs.set(job.details.submission_id ?? '', stopped);
    };
    await jobs().delete('raysubmit_c');
    api.afterJobDelete = undefined;
    expect(comebacks).toBe(2);
    expect(api.jobs.has('raysubmit_c')).toBe(false);
  });
});

describe('entrypointOf', () => {
  it('keeps one argument as the command line it is, and quotes several words for the shell', () => {
    expect(entrypointOf(['python train.py && echo done'])).toBe('python train.py && echo done');
    expect(entrypointOf(['python', '-c', 'print(1)'])).toBe("python -c 'print(1)'");
    expect(entrypointOf(['python', 'job.py', '--name', "it's"])).toBe("python job.py --name 'it'\\''s'");
    expect(entrypointOf(['echo', 'a=1,b=2', '/tmp/x.txt'])).toBe('echo a=1,b=2 /tmp/x.txt');
  });
});
