import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { rayfleetErrorOf } from '../../../../test/support/caught.js';
import { PYTHON_RUNTIME, TEST_API_KEY, emulatedWorkspace, type EmulatedWorkspace } from '../../../../test/cml-emulator/workspace-fixture.js';
import type { CmlEmulator } from '../../../../test/cml-emulator/start-cml-emulator.js';
import { pollUntil } from '../../../wait/poll-until.js';
import type { CmlClient } from './cml-client.js';
import type { CreateApplicationRequest } from './cml-types.js';

let workspace: EmulatedWorkspace;
let client: CmlClient;
let projectId: string;
let scratch: string;
let counter = 0;

/** A fresh application request; its script does not exist, so the engine's process exits as soon as it starts. */
function applicationRequest(overrides: Partial<CreateApplicationRequest> = {}): CreateApplicationRequest {
  counter += 1;
  return { name: `app-${counter}`, subdomain: `app-${counter}`, script: 'missing.py', runtime_identifier: PYTHON_RUNTIME, ...overrides };
}

/** The requests the emulator has seen since the test began, as `METHOD path → status`. */
function seen(): string[] {
  return workspace.emulator.requests.map((request) => `${request.method} ${request.path.replace(`/api/v2/projects/${projectId}`, '…')} → ${request.status}`);
}

/** Aborts with `reason` once the emulator's request log satisfies `seenEnough`. */
async function abortOnceSeen(controller: AbortController, reason: string, seenEnough: (requests: CmlEmulator['requests']) => boolean): Promise<void> {
  await pollUntil(async () => (seenEnough(workspace.emulator.requests) ? true : undefined), { timeoutMs: 5_000, intervalMs: 5, describe: () => 'the emulator to see the request' });
  controller.abort(new Error(reason));
}

beforeAll(async () => {
  workspace = await emulatedWorkspace();
  client = workspace.client();
  projectId = workspace.projectId;
  scratch = mkdtempSync(join(tmpdir(), 'cml-client-test-'));
});

afterAll(async () => {
  await workspace.close();
  rmSync(scratch, { recursive: true, force: true });
});

beforeEach(() => {
  workspace.emulator.setFaults({});
  workspace.emulator.requests.length = 0;
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('CmlClient against the emulator', () => {
  it('creates, reads, lists and deletes projects, applications, jobs, runs and files', async () => {
    const project = await client.createProject({ name: 'from-git', git_url: 'https://github.com/example/repo', environment: { SHARED: '1' } });
    expect(project).toMatchObject({ name: 'from-git', creation_status: 'creating', environment: { SHARED: '1' } });
    expect((await client.getProject(project.id)).creation_status).toBe('success');
    expect((await client.findProjectsByName('from-git')).map((found) => found.id)).toEqual([project.id]);

    const application = await client.createApplication(projectId, applicationRequest({ name: 'head', subdomain: 'ray-head', cpu: 2, memory: 4, nvidia_gpu: 0, bypass_authentication: false }));
    expect(application).toMatchObject({ name: 'head', subdomain: 'ray-head', status: 'APPLICATION_STARTING', cpu: 2, memory: 4, bypass_authentication: false, runtime_identifier: PYTHON_RUNTIME });
    expect((await client.getApplication(projectId, application.id)).id).toBe(application.id);
    const updated = await client.updateApplication(projectId, application.id, { description: 'the head', cpu: 3 });
    expect(updated).toMatchObject({ description: 'the head', cpu: 3, memory: 4 });
    expect((await client.stopApplication(projectId, application.id)).id).toBe(application.id);
    expect((await client.restartApplication(projectId, application.id)).status).toBe('APPLICATION_STARTING');
    await client.deleteApplication(projectId, application.id);
    expect(await client.findApplicationsByName(projectId, 'head')).toEqual([]);

    const job = await client.createJob(projectId, { name: 'setup', script: 'setup.py', runtime_identifier: PYTHON_RUNTIME, timeout: 600, environment: { STEP: 'venv' } });
    expect(job).toMatchObject({ name: 'setup', type: 'manual', timeout: '600', environment: { STEP: 'venv' } });
    expect((await client.getJob(projectId, job.id)).name).toBe('setup');
    const run = await client.createJobRun(projectId, job.id, { arguments: '--fast' });
    expect(run).toMatchObject({ job_id: job.id, status: 'ENGINE_SCHEDULING', arguments: '--fast' });
    expect((await client.getJobRun(projectId, job.id, run.id)).id).toBe(run.id);
    expect((await client.listJobRuns(projectId, job.id)).map((listed) => listed.id)).toEqual([run.id]);
    await client.deleteJob(projectId, job.id);
    expect(await client.findJobsByName(projectId, 'setup')).toEqual([]);

    await client.uploadFile(projectId, 'launchers/head.py', 'print("head")\n');
    expect(await client.listProjectFiles(projectId, 'launchers')).toEqual([{ path: 'head.py', is_dir: false, file_size: '14' }]);
    expect(await client.listProjectFiles(projectId)).toContainEqual({ path: 'launchers', is_dir: true });
    await client.deleteProjectFile(projectId, 'launchers');
    expect((await client.listProjectFiles(projectId)).map((file) => file.path)).not.toContain('launchers');
  });

  it('finds by exact name although the API matches substrings, case-sensitively', async () => {
    for (const name of ['worker', 'worker-1', 'Worker']) await client.createJob(projectId, { name, script: 'w.py', runtime_identifier: PYTHON_RUNTIME });
    expect((await client.listJobs(projectId, { searchFilter: { name: 'worker' } })).map((job) => job.name).sort()).toEqual(['worker', 'worker-1']);
    expect((await client.findJobsByName(projectId, 'worker')).map((job) => job.name)).toEqual(['worker']);
    const runtimes = await client.listRuntimes({ searchFilter: { kernel: 'Python 3.11', edition: 'Standard' } });
    expect(runtimes.map((runtime) => runtime.image_identifier)).toContain(PYTHON_RUNTIME);
    expect(runtimes.every((runtime) => runtime.kernel === 'Python 3.11' && runtime.edition === 'Standard')).toBe(true);
  });

  it('follows page tokens, sending the same page_size with each', async () => {
    for (let index = 1; index <= 7; index += 1) await client.createJob(projectId, { name: `paged-${index}`, script: 'p.py', runtime_identifier: PYTHON_RUNTIME });
    workspace.emulator.requests.length = 0;
    const jobs = await client.listJobs(projectId, { searchFilter: { name: 'paged-' }, pageSize: 3, sort: '+name' });
    expect(jobs.map((job) => job.name)).toEqual(['paged-1', 'paged-2', 'paged-3', 'paged-4', 'paged-5', 'paged-6', 'paged-7']);
    const queries = workspace.emulator.requests.map((request) => new URLSearchParams(request.query));
    expect(queries.map((query) => query.get('page_size'))).toEqual(['3', '3', '3']);
    expect(queries[0]?.has('page_token')).toBe(false);
    expect(queries.slice(1).every((query) => (query.get('page_token') ?? '') !== '')).toBe(true);

    // The emulator holds the API to its word: a token with another page size is refused.
    const second = queries[1]?.get('page_token') ?? '';
    const refused = await fetch(`${workspace.emulator.url}/api/v2/projects/${projectId}/jobs?page_size=5&page_token=${second}`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    expect(refused.status).toBe(400);
  });

  it('round-trips environment maps, though responses carry them as JSON strings', async () => {
    const environment = { RAY_HEAD_ADDRESS: '10.0.0.1:6379', 'WITH SPACE': 'a b', QUOTED: '{"json": [1, 2]}', EMPTY: '', UNICODE: 'żółw' };
    const application = await client.createApplication(projectId, applicationRequest({ environment }));
    expect(application.environment).toEqual(environment);
    expect((await client.getApplication(projectId, application.id)).environment).toEqual(environment);
    const raw = (await (
      await fetch(`${workspace.emulator.url}/api/v2/projects/${projectId}/applications/${application.id}`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } })
    ).json()) as { environment: unknown };
    expect(typeof raw.environment).toBe('string');
    const changed = { RAY_HEAD_ADDRESS: '10.0.0.2:6379' };
    expect((await client.updateApplication(projectId, application.id, { environment: changed })).environment).toEqual(changed);
    expect((await client.listApplications(projectId, { searchFilter: { name: application.name } }))[0]?.environment).toEqual(changed);
  });

  it('uploads never overwrite unless asked to replace', async () => {
    await client.uploadFile(projectId, 'notes.txt', 'one');
    await client.uploadFile(projectId, 'notes.txt', 'two!');
    const names = (await client.listProjectFiles(projectId)).map((file) => file.path);
    expect(names).toEqual(expect.arrayContaining(['notes.txt', 'notes(1).txt']));
    await client.uploadFile(projectId, 'notes.txt', 'three', { replace: true });
    const notes = (await client.listProjectFiles(projectId, 'notes.txt'))[0];
    expect(notes).toEqual({ path: 'notes.txt', is_dir: false, file_size: '5' });
  });

  it('downloads the bytes of an uploaded file, at the root and nested, and reads it as text', async () => {
    const bytes = new Uint8Array([0, 1, 2, 0xff, 0xfe, 10, 13]);
    await client.uploadFile(projectId, 'download/deep/er/data.bin', bytes);
    expect(await client.downloadFile(projectId, 'download/deep/er/data.bin')).toEqual(bytes);
    expect(await client.downloadFile(projectId, '/home/cdsw/download/deep/er/data.bin')).toEqual(bytes);
    await client.uploadFile(projectId, 'download.txt', 'żółw\n');
    expect(await client.readTextFile(projectId, 'download.txt')).toBe('żółw\n');
    expect(seen().slice(-1)).toEqual(['POST …/files/download.txt:download → 200']);

    // The emulator takes the slashes of a nested path raw or percent-encoded, as the gateway does.
    const encoded = await fetch(`${workspace.emulator.url}/api/v2/projects/${projectId}/files/download%2Fdeep%2Fer%2Fdata.bin:download`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    expect(encoded.status).toBe(200);
    expect(new Uint8Array(await encoded.arrayBuffer())).toEqual(bytes);
    expect(workspace.emulator.requests.every((request) => request.violations.length === 0)).toBe(true);
  });

  it('reads a missing file as undefined, and downloading it or a directory is CAI_NOT_FOUND', async () => {
    expect(await client.readTextFile(projectId, 'no/such/file.txt')).toBeUndefined();
    const missing = await rayfleetErrorOf(() => client.downloadFile(projectId, 'no/such/file.txt'));
    expect(missing.code).toBe('CAI_NOT_FOUND');
    expect(missing.message).toBe(
      `CML API at ${workspace.emulator.url}: POST /api/v2/projects/${projectId}/files/no/such/file.txt:download answered 404: file "no/such/file.txt" not found (code 5)`,
    );
    await client.uploadFile(projectId, 'a-directory/inside.txt', 'x');
    expect((await rayfleetErrorOf(() => client.downloadFile(projectId, 'a-directory'))).code).toBe('CAI_NOT_FOUND');
    expect(seen().filter((line) => line.includes(':download'))).toEqual([
      'POST …/files/no/such/file.txt:download → 404',
      'POST …/files/no/such/file.txt:download → 404',
      'POST …/files/a-directory:download → 404',
    ]);
  });
});

describe('CmlClient retries', () => {
  it('retries 429s with back-off, then succeeds', async () => {
    workspace.emulator.setFaults({ rules: [{ kind: 'status', status: 429, times: 2, method: 'GET' }] });
    expect((await client.getProject(projectId)).id).toBe(projectId);
    expect(seen()).toEqual(['GET … → 429', 'GET … → 429', 'GET … → 200']);
  });

  it('retries 500s, then succeeds', async () => {
    workspace.emulator.setFaults({ rules: [{ kind: 'status', status: 500, times: 2 }] });
    expect((await client.listRuntimes()).length).toBeGreaterThan(0);
    expect(seen()).toEqual(['GET /api/v2/runtimes → 500', 'GET /api/v2/runtimes → 500', 'GET /api/v2/runtimes → 200']);
  });

  it('retries a download after a 500, like a read', async () => {
    await client.uploadFile(projectId, 'retried.txt', 'second time lucky');
    workspace.emulator.requests.length = 0;
    workspace.emulator.setFaults({ rules: [{ kind: 'status', status: 500, path: ':download' }] });
    expect(await client.readTextFile(projectId, 'retried.txt')).toBe('second time lucky');
    expect(seen()).toEqual(['POST …/files/retried.txt:download → 500', 'POST …/files/retried.txt:download → 200']);
  });

  it('times out a request that hangs and tries again', async () => {
    workspace.emulator.setFaults({ rules: [{ kind: 'hang', method: 'GET' }] });
    const started = Date.now();
    expect((await workspace.client({ timeoutMs: 300 }).getProject(projectId)).id).toBe(projectId);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(seen()).toEqual(['GET … → 0', 'GET … → 200']);
  });

  it('does not create twice when a create timed out after taking effect', async () => {
    workspace.emulator.setFaults({ rules: [{ kind: 'hang', afterEffect: true, method: 'POST', path: '/applications' }] });
    const request = applicationRequest();
    const application = await workspace.client({ timeoutMs: 300 }).createApplication(projectId, request);
    expect(application.name).toBe(request.name);
    const named = [...workspace.emulator.store.applications.values()].filter((stored) => stored.name === request.name);
    expect(named.map((stored) => stored.id)).toEqual([application.id]);
    // The create hung, the client looked, found it, and did not send the create again.
    expect(seen()).toEqual(['POST …/applications → 0', 'GET …/applications → 200']);
  });

  it('creates again after a 5xx that took no effect, once', async () => {
    workspace.emulator.setFaults({ rules: [{ kind: 'status', status: 503, method: 'POST', path: '/jobs' }] });
    const job = await client.createJob(projectId, { name: 'after-503', script: 'j.py', runtime_identifier: PYTHON_RUNTIME });
    expect((await client.findJobsByName(projectId, 'after-503')).map((found) => found.id)).toEqual([job.id]);
    expect(seen().slice(0, 3)).toEqual(['POST …/jobs → 503', 'GET …/jobs → 200', 'POST …/jobs → 200']);
  });

  it('counts a 404 after a delete that may have taken effect as deleted', async () => {
    // An application that never started, so its delete takes effect at once. One with a process takes effect only when
    // the process has stopped (a poll of /proc, slower the more processes the machine runs): past the 300 ms timeout,
    // the retry found the application still there and answered 200, about one run in three on a busy machine.
    const request = applicationRequest();
    workspace.emulator.setFaults({ failToStart: [request.name] });
    const application = await client.createApplication(projectId, request);
    expect(application.status).toBe('APPLICATION_FAILED');
    workspace.emulator.requests.length = 0;
    workspace.emulator.setFaults({ rules: [{ kind: 'hang', afterEffect: true, method: 'DELETE' }] });
    await workspace.client({ timeoutMs: 300 }).deleteApplication(projectId, application.id);
    expect(seen()).toEqual([`DELETE …/applications/${application.id} → 0`, `DELETE …/applications/${application.id} → 404`]);
  });

  it('gives up on a persistent 5xx with CAI_UNAVAILABLE, after the configured attempts', async () => {
    workspace.emulator.setFaults({ rules: [{ kind: 'status', status: 500, times: Infinity, message: 'database is down' }] });
    const error = await rayfleetErrorOf(() => workspace.client({ maxAttempts: 3 }).getProject(projectId));
    expect(error.code).toBe('CAI_UNAVAILABLE');
    expect(error.message).toContain(`GET /api/v2/projects/${projectId} answered 500: database is down (code 13) (after 3 attempts)`);
    expect(workspace.emulator.requests).toHaveLength(3);
  });

  it('is CAI_UNAVAILABLE when nothing answers in time, each attempt timed out', async () => {
    workspace.emulator.setFaults({ rules: [{ kind: 'hang', times: Infinity }] });
    const error = await rayfleetErrorOf(() => workspace.client({ maxAttempts: 2, timeoutMs: 100 }).listRuntimes());
    expect(error.code).toBe('CAI_UNAVAILABLE');
    expect(error.message).toMatch(/no answer within 100 ms \(after 2 attempts\)/);
  });

  it('times out answers slower than the timeout, and takes slow ones within it', async () => {
    workspace.emulator.setFaults({ latencyMs: 300 });
    const error = await rayfleetErrorOf(() => workspace.client({ maxAttempts: 2, timeoutMs: 100 }).listRuntimes());
    expect(error.code).toBe('CAI_UNAVAILABLE');
    expect((await workspace.client({ timeoutMs: 2_000 }).listRuntimes()).length).toBeGreaterThan(0);
  });

  it("stops at once, with the caller's reason, when the caller aborts", async () => {
    // Each abort waits for the request to reach the emulator (not a 50 ms timer): the emulator shares this event loop,
    // and a stall (its /proc scans for earlier tests' engines) let the timer fire first. The request then arrived in
    // the next test's log instead of this one's, failing both.
    workspace.emulator.setFaults({ rules: [{ kind: 'hang', times: Infinity }] });
    const controller = new AbortController();
    void abortOnceSeen(controller, 'shutting down', (requests) => requests.length === 1);
    await expect(client.getProject(projectId, controller.signal)).rejects.toThrow('shutting down');
    expect(workspace.emulator.requests).toHaveLength(1);

    // Also while waiting to retry: aborted as the client logs that it will retry, just before its 10 s back-off.
    workspace.emulator.requests.length = 0;
    workspace.emulator.setFaults({ rules: [{ kind: 'status', status: 503, times: Infinity }] });
    const waiting = new AbortController();
    const logger = pino({ level: 'warn' }, { write: (line: string) => line.includes('retrying') && waiting.abort(new Error('interrupted')) });
    // The full 10 s, no jitter below it: a back-off deaf to the signal would show.
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const started = Date.now();
    await expect(workspace.client({ baseDelayMs: 10_000, maxDelayMs: 10_000, logger }).getProject(projectId, waiting.signal)).rejects.toThrow('interrupted');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(workspace.emulator.requests).toHaveLength(1);
  });
});

describe('CmlClient errors', () => {
  it('is CAI_AUTH for a wrong key, showing the key only masked', async () => {
    const wrongKey = 'cml-wrong-key-0123456789abcdef';
    const error = await rayfleetErrorOf(() => workspace.client({ apiKey: wrongKey }).getProject(projectId));
    expect(error.code).toBe('CAI_AUTH');
    expect(error.message).toMatch(/answered 401: invalid API key \(code 16\)/);
    expect(error.details).toContain('cml-…ef');
    expect(`${error.message} ${error.details}`).not.toContain(wrongKey);
    expect(workspace.emulator.requests).toHaveLength(1);
  });

  it('is CAI_NOT_FOUND for a missing object, with the API message, method and path', async () => {
    const error = await rayfleetErrorOf(() => client.getApplication(projectId, 'no-such-app'));
    expect(error.code).toBe('CAI_NOT_FOUND');
    expect(error.message).toBe(`CML API at ${workspace.emulator.url}: GET /api/v2/projects/${projectId}/applications/no-such-app answered 404: application "no-such-app" not found (code 5)`);
  });

  it('is CAI_QUOTA at once for a quota message, and after retries for a 429 that does not end', async () => {
    workspace.emulator.setFaults({ rules: [{ kind: 'status', status: 429, times: Infinity, message: 'insufficient quota: cpu requested 8, available 2' }] });
    const quota = await rayfleetErrorOf(() => client.createApplication(projectId, applicationRequest({ cpu: 8 })));
    expect(quota.code).toBe('CAI_QUOTA');
    expect(quota.message).toContain('insufficient quota: cpu requested 8, available 2');
    expect(workspace.emulator.requests).toHaveLength(1);

    workspace.emulator.requests.length = 0;
    workspace.emulator.setFaults({ rules: [{ kind: 'status', status: 429, times: Infinity, message: 'too many requests' }] });
    const throttled = await rayfleetErrorOf(() => workspace.client({ maxAttempts: 3 }).listRuntimes());
    expect(throttled.code).toBe('CAI_QUOTA');
    expect(workspace.emulator.requests).toHaveLength(3);

    workspace.emulator.setFaults({ rules: [{ kind: 'status', status: 403, message: 'Resource quota exceeded for user' }] });
    expect((await rayfleetErrorOf(() => client.listRuntimes())).code).toBe('CAI_QUOTA');
  });

  it('is CAI_FAILED, without retrying, when the API rejects the request', async () => {
    const error = await rayfleetErrorOf(() => client.createApplication(projectId, applicationRequest({ subdomain: 'Not_Valid' })));
    expect(error.code).toBe('CAI_FAILED');
    expect(error.message).toMatch(/POST \/api\/v2\/projects\/.*\/applications answered 400: Problem with field Subdomain: invalid pattern \(code 3\)/);
    expect(workspace.emulator.requests).toHaveLength(1);
  });
});

describe('RAYFLEET_HTTP_TRACE', () => {
  it('writes one redacted JSON line per attempt and never the key', async () => {
    const traceFile = join(scratch, 'trace.jsonl');
    const traced = workspace.client({ traceFile });
    workspace.emulator.setFaults({ rules: [{ kind: 'status', status: 500, method: 'POST' }] });
    const application = await traced.createApplication(projectId, applicationRequest({ environment: { CML_API_KEY: TEST_API_KEY, RAY_AUTH_TOKEN: 'ray-token-value', PLAIN: 'visible' } }));
    await traced.updateApplication(projectId, application.id, { environment: { DB_PASSWORD: 'hunter2', PLAIN: 'still-visible' } });
    await traced.uploadFile(projectId, 'traced.txt', 'contents');
    expect(await traced.readTextFile(projectId, 'traced.txt')).toBe('contents');

    const text = readFileSync(traceFile, 'utf8');
    for (const hidden of [TEST_API_KEY, 'ray-token-value', 'hunter2', 'Bearer', 'contents']) expect(text).not.toContain(hidden);
    const lines = text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => `${line.method} ${line.status} #${line.attempt}`)).toEqual(['POST 500 #1', 'GET 200 #1', 'POST 200 #2', 'PATCH 200 #1', 'POST 200 #1', 'POST 200 #1']);
    for (const line of lines) expect(Object.keys(line).sort()).toEqual(['attempt', 'body', 'durationMs', 'method', 'path', 'query', 'status', 'time']);
    expect(lines[0]?.body).toMatchObject({ environment: { CML_API_KEY: '***', RAY_AUTH_TOKEN: '***', PLAIN: 'visible' } });
    expect(lines[1]?.query).toMatchObject({ search_filter: JSON.stringify({ name: application.name }), page_size: '100' });
    expect(JSON.parse((lines[3]?.body as { environment: string }).environment)).toEqual({ DB_PASSWORD: '***', PLAIN: 'still-visible' });
    expect(lines[4]?.body).toEqual({ files: [{ path: 'traced.txt', bytes: 8 }] });
    expect(lines[5]).toMatchObject({ path: `/api/v2/projects/${projectId}/files/traced.txt:download`, body: null });
  });
});
