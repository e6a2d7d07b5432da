// The client against the swagger: every method's requests pass the emulator's swagger validator (and the
// emulator's answers pass it too), and the validator does refuse what the real gateway would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON_RUNTIME, TEST_API_KEY, emulatedWorkspace, type EmulatedWorkspace } from '../../../../test/cml-emulator/workspace-fixture.js';
import { CmlClient } from './cml-client.js';

/** Methods of the class that are not its API. */
const PRIVATE_METHODS = new Set(['constructor', 'newestJobRun']);

/** The swagger operations the client is made of. */
const OPERATIONS = [
  'ListProjects',
  'CreateProject',
  'GetProject',
  'ListApplications',
  'CreateApplication',
  'GetApplication',
  'UpdateApplication',
  'StopApplication',
  'RestartApplication',
  'DeleteApplication',
  'ListJobs',
  'CreateJob',
  'GetJob',
  'DeleteJob',
  'ListJobRuns',
  'CreateJobRun',
  'GetJobRun',
  'ListRuntimes',
  'UploadFile',
  'ListProjectFiles',
  'DownloadProjectFile',
  'DeleteProjectFile',
];

let workspace: EmulatedWorkspace;

beforeAll(async () => {
  workspace = await emulatedWorkspace();
});

afterAll(async () => {
  await workspace.close();
});

/** The client, counting which of its methods were called. */
function recordingClient(called: Set<string>): CmlClient {
  const client = workspace.client();
  return new Proxy(client, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        called.add(property);
        return (value as (...inner: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function raw(method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${TEST_API_KEY}` }): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${workspace.emulator.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

describe('the CML client against the swagger', () => {
  it('sends only requests the swagger accepts, from every method', async () => {
    const called = new Set<string>();
    const client = recordingClient(called);
    const { projectId } = workspace;
    workspace.emulator.requests.length = 0;

    const project = await client.createProject({
      name: 'contract',
      description: 'every field',
      visibility: 'private',
      git_url: 'https://github.com/example/repo',
      git_ref: 'main',
      default_project_engine_type: 'ml_runtime',
      environment: { A: '1' },
      shared_memory_limit: 1024,
    });
    await client.getProject(project.id);
    await client.listProjects({ searchFilter: { name: 'contract' }, sort: '-created_at', includePublicProjects: true, pageSize: 2 });
    await client.findProjectsByName('contract');

    const runtimes = await client.listRuntimes({ searchFilter: { kernel: 'Python 3.11', editor: 'JupyterLab' }, pageSize: 1 });
    const runtime = runtimes[0]?.image_identifier ?? PYTHON_RUNTIME;
    await client.uploadFile(projectId, 'contract/app.py', 'print("x")\n');
    await client.uploadFile(projectId, 'contract/app.py', 'print("y")\n', { replace: true });
    await client.listProjectFiles(projectId, 'contract');
    await client.listProjectFiles(projectId);
    await client.downloadFile(projectId, 'contract/app.py');
    await client.readTextFile(projectId, 'contract/app.py');

    const application = await client.createApplication(projectId, {
      name: 'contract-app',
      subdomain: 'contract-app',
      description: 'every field',
      script: 'contract/app.py',
      cpu: 1.5,
      memory: 2,
      nvidia_gpu: 0,
      environment: { RAY_NODE_TYPE_NAME: 'worker' },
      bypass_authentication: false,
      runtime_identifier: runtime,
      runtime_addon_identifiers: [],
      accelerator_label_id: '0',
    });
    await client.getApplication(projectId, application.id);
    await client.listApplications(projectId, { searchFilter: { status: 'starting', name: 'contract' }, sort: '+name' });
    await client.findApplicationsByName(projectId, 'contract-app');
    await client.updateApplication(projectId, application.id, { description: 'changed', environment: { B: '2' }, cpu: 2, memory: 3, subdomain: 'contract-app-2' });
    await client.stopApplication(projectId, application.id);
    await client.restartApplication(projectId, application.id);
    await client.deleteApplication(projectId, application.id);

    const job = await client.createJob(projectId, {
      name: 'contract-job',
      script: 'contract/app.py',
      cpu: 1,
      memory: 1,
      timeout: 600,
      kill_on_timeout: true,
      arguments: '--a',
      environment: { C: '3' },
      runtime_identifier: runtime,
      recipients: [{ email: 'a@example.com', notify_on_failure: true }],
    });
    await client.getJob(projectId, job.id);
    await client.listJobs(projectId, { searchFilter: { name: 'contract' }, sort: '-created_at' });
    await client.findJobsByName(projectId, 'contract-job');
    const run = await client.createJobRun(projectId, job.id, { environment: { D: '4' }, arguments: '--b' });
    await client.getJobRun(projectId, job.id, run.id);
    await client.listJobRuns(projectId, job.id, { searchFilter: { status: 'scheduling' }, sort: '-created_at' });
    await client.deleteJob(projectId, job.id);
    await client.deleteProjectFile(projectId, 'contract');

    const publicMethods = Object.getOwnPropertyNames(CmlClient.prototype).filter(
      (name) => !PRIVATE_METHODS.has(name) && typeof Object.getOwnPropertyDescriptor(CmlClient.prototype, name)?.value === 'function',
    );
    expect(publicMethods.filter((name) => !called.has(name))).toEqual([]);

    const requests = workspace.emulator.requests;
    const refused = requests.filter((request) => request.violations.length > 0 || request.status !== 200);
    expect(refused).toEqual([]);
    const badAnswers = requests.filter((request) => request.responseViolations.length > 0);
    expect(badAnswers).toEqual([]);
    expect([...new Set(requests.map((request) => request.operationId))].sort()).toEqual([...OPERATIONS].sort());
  });
});

describe("the emulator's swagger validator", () => {
  it('refuses unknown fields, in the body and nested in it, as grpc-gateway does', async () => {
    const { projectId } = workspace;
    const unknown = await raw('POST', `/api/v2/projects/${projectId}/applications`, {
      name: 'x',
      subdomain: 'x',
      script: 'x.py',
      runtime_identifier: PYTHON_RUNTIME,
      environment_variables: { A: '1' },
    });
    expect(unknown).toEqual({ status: 400, body: { code: 3, message: 'unknown field "environment_variables" in CreateApplicationRequest', details: [] } });

    const nested = await raw('POST', `/api/v2/projects/${projectId}/jobs`, { name: 'j', script: 'j.py', recipients: [{ email: 'a@example.com', notify: true }] });
    expect(nested).toMatchObject({ status: 400, body: { code: 3, message: 'unknown field "notify" in JobRecipient' } });

    const project = await raw('POST', '/api/v2/projects', { name: 'p', project_visibility: 'private' });
    expect(project).toMatchObject({ status: 400, body: { code: 3, message: 'unknown field "project_visibility" in CreateProjectRequest' } });
  });

  it('refuses mistyped fields', async () => {
    const { projectId } = workspace;
    const cpu = await raw('POST', `/api/v2/projects/${projectId}/jobs`, { name: 'j', script: 'j.py', cpu: 'lots' });
    expect(cpu).toMatchObject({ status: 400, body: { code: 3, message: 'bad value for CreateJobRequest.cpu: expected a number, got string "lots"' } });

    const environment = await raw('POST', `/api/v2/projects/${projectId}/jobs/nope/runs`, { environment: { A: 1 } });
    expect(environment).toMatchObject({ status: 400, body: { message: 'bad value for CreateJobRunRequest.environment["A"]: expected a string, got number 1' } });

    // UpdateApplication's body is the response type: its environment is a JSON string, not the map that create takes.
    const patch = await raw('PATCH', `/api/v2/projects/${projectId}/applications/some-id`, { environment: { A: '1' } });
    expect(patch).toMatchObject({ status: 400, body: { message: 'bad value for Application.environment: expected a string, got object {"A":"1"}' } });

    const status = await raw('PATCH', `/api/v2/projects/${projectId}/applications/some-id`, { status: 'running' });
    expect(status).toMatchObject({ status: 400, body: { code: 3 } });
  });

  it('refuses query parameters the operation does not declare or cannot parse', async () => {
    const { projectId } = workspace;
    expect(await raw('GET', `/api/v2/projects/${projectId}/applications?path=.`)).toMatchObject({
      status: 400,
      body: { message: 'unknown query parameter "path" for ListApplications' },
    });
    expect(await raw('GET', '/api/v2/runtimes?page_size=ten')).toMatchObject({ status: 400, body: { message: 'query parameter "page_size" must be an integer, not "ten"' } });
    expect(await raw('GET', '/api/v2/projects?include_public_projects=maybe')).toMatchObject({ status: 400 });
    expect(await raw('GET', '/api/v2/projects?search_filter={"size":"big"}')).toMatchObject({ status: 400, body: { message: expect.stringMatching(/unsupported search filter key "size"/) } });
  });

  it('answers paths and methods outside the swagger, and missing or wrong keys, like the gateway', async () => {
    const { projectId } = workspace;
    expect(await raw('POST', `/api/v2/projects/${projectId}/applications/x/stop`)).toMatchObject({ status: 404, body: { code: 5 } });
    expect(await raw('PUT', `/api/v2/projects/${projectId}/files`)).toMatchObject({ status: 405 });
    expect(await raw('GET', '/api/v2/runtimes', undefined, {})).toEqual({ status: 401, body: { code: 16, message: 'missing authorization header', details: [] } });
    expect(await raw('GET', '/api/v2/runtimes', undefined, { authorization: 'Bearer guess' })).toMatchObject({ status: 401, body: { code: 16 } });
    // A valid operation the emulator does not implement says so instead of pretending.
    expect(await raw('GET', '/api/v2/usersquota')).toMatchObject({ status: 501, body: { code: 12 } });
  });
});
