// Applications and job runs of the emulator as real Python processes, driven through the client.
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON_RUNTIME, TEST_API_KEY, emulatedWorkspace, type EmulatedWorkspace } from '../../../../test/cml-emulator/workspace-fixture.js';
import { isProcessAlive } from '../../../process/process-alive.js';
import { pollUntil } from '../../../wait/poll-until.js';
import type { CmlClient } from './cml-client.js';
import { TERMINAL_ENGINE_STATUSES, type Application, type ApplicationStatus, type JobRun } from './cml-types.js';

/**
 * Records what it was started with, starts a child that would outlive it if only the leader were killed, asks the
 * API about its own project with the key CML gave it, then serves HTTP on CDSW_APP_PORT.
 */
const APP_SCRIPT = `
import http.server, json, os, subprocess, urllib.request
child = subprocess.Popen(["sleep", "300"])
request = urllib.request.Request(
    "http://%s/api/v2/projects/%s" % (os.environ["CDSW_DOMAIN"], os.environ["CDSW_PROJECT_ID"]),
    headers={"authorization": "Bearer " + os.environ["CDSW_APIV2_KEY"]})
project = json.load(urllib.request.urlopen(request))
names = ["CDSW_APP_PORT", "CDSW_IP_ADDRESS", "CDSW_PROJECT_ID", "CDSW_DOMAIN", "CDSW_APIV2_KEY", "CDSW_ENGINE_ID", "HOME", "GREETING", "PROJECT_ONLY"]
seen = {name: os.environ.get(name) for name in names}
seen.update(cwd=os.getcwd(), child=child.pid, project_name=project["name"])
with open("seen-%s.json" % os.environ["CDSW_ENGINE_ID"], "w") as out:
    json.dump(seen, out)
print("serving on", os.environ["CDSW_APP_PORT"], flush=True)
http.server.HTTPServer(("127.0.0.1", int(os.environ["CDSW_APP_PORT"])), http.server.SimpleHTTPRequestHandler).serve_forever()
`;

const FAILING_SCRIPT = `
import sys
print("cannot find the Ray head", file=sys.stderr)
sys.exit(1)
`;

const JOB_SCRIPT = `
import json, os, sys
with open("job-output.json", "w") as out:
    json.dump({"args": sys.argv[1:], "step": os.environ.get("STEP"), "run_only": os.environ.get("RUN_ONLY")}, out)
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
`;

let workspace: EmulatedWorkspace;
let client: CmlClient;
let projectId: string;
let projectDirectory: string;

beforeAll(async () => {
  workspace = await emulatedWorkspace();
  client = workspace.client();
  const project = await client.createProject({ name: 'apps', environment: { GREETING: 'from the project', PROJECT_ONLY: 'yes' } });
  projectId = project.id;
  projectDirectory = workspace.emulator.store.projects.get(projectId)?.directory ?? '';
  await client.uploadFile(projectId, 'launcher/app.py', APP_SCRIPT);
  await client.uploadFile(projectId, 'launcher/fail.py', FAILING_SCRIPT);
  await client.uploadFile(projectId, 'job.py', JOB_SCRIPT);
});

afterAll(async () => {
  await workspace.close();
});

async function waitForStatus(applicationId: string, wanted: ApplicationStatus): Promise<Application> {
  return pollUntil(
    async () => {
      const application = await client.getApplication(projectId, applicationId);
      return application.status === wanted ? application : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 20, describe: () => `application ${applicationId} to be ${wanted}` },
  );
}

async function waitForRunEnd(jobId: string, runId: string): Promise<JobRun> {
  return pollUntil(
    async () => {
      const run = await client.getJobRun(projectId, jobId, runId);
      return TERMINAL_ENGINE_STATUSES.has(run.status) ? run : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 20, describe: () => `job run ${runId} to end` },
  );
}

function seenBy(engineId: string): Record<string, string | number | null> {
  return JSON.parse(readFileSync(join(projectDirectory, `seen-${engineId}.json`), 'utf8')) as Record<string, string | number | null>;
}

function running(pid: number): boolean {
  // A zombie awaiting its reaper is not running.
  if (!isProcessAlive(pid)) return false;
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
}

describe('applications as processes', () => {
  it('runs the script with CML’s environment until stopped, restarts it, and deletes it', async () => {
    const created = await client.createApplication(projectId, {
      name: 'ray-head',
      subdomain: 'ray-head',
      script: 'launcher/app.py',
      runtime_identifier: PYTHON_RUNTIME,
      environment: { GREETING: 'from the application' },
    });
    expect(created.status).toBe('APPLICATION_STARTING');
    const up = await waitForStatus(created.id, 'APPLICATION_RUNNING');
    expect(up.running_at).toBeDefined();

    const engine = workspace.emulator.processOf(created.id);
    if (engine?.engineId === undefined || engine.port === undefined) throw new Error('no engine');
    expect((await fetch(`http://127.0.0.1:${engine.port}/`)).status).toBe(200);
    const seen = await pollUntil(async () => seenBy(engine.engineId ?? ''), { timeoutMs: 5_000, intervalMs: 20, describe: () => 'the script to record its environment' });
    expect(seen).toMatchObject({
      CDSW_APP_PORT: String(engine.port),
      CDSW_IP_ADDRESS: '127.0.0.1',
      CDSW_PROJECT_ID: projectId,
      CDSW_DOMAIN: workspace.emulator.domain,
      CDSW_APIV2_KEY: TEST_API_KEY,
      CDSW_ENGINE_ID: engine.engineId,
      HOME: projectDirectory,
      GREETING: 'from the application',
      PROJECT_ONLY: 'yes',
      project_name: 'apps',
    });
    expect(realpathSync(String(seen.cwd))).toBe(realpathSync(projectDirectory));
    expect(workspace.emulator.readLog(created.id)).toContain(`serving on ${engine.port}`);

    expect((await client.stopApplication(projectId, created.id)).status).toBe('APPLICATION_STOPPING');
    const stopped = await waitForStatus(created.id, 'APPLICATION_STOPPED');
    expect(stopped.stopped_at).toBeDefined();
    expect(running(engine.pid)).toBe(false);
    expect(running(Number(seen.child))).toBe(false);
    expect(workspace.emulator.processOf(created.id)).toBeUndefined();

    expect((await client.restartApplication(projectId, created.id)).status).toBe('APPLICATION_STARTING');
    await waitForStatus(created.id, 'APPLICATION_RUNNING');
    const again = workspace.emulator.processOf(created.id);
    expect(again?.engineId).not.toBe(engine.engineId);

    await client.deleteApplication(projectId, created.id);
    expect(running(again?.pid ?? 0)).toBe(false);
    expect(await client.findApplicationsByName(projectId, 'ray-head')).toEqual([]);
  });

  it('is FAILED when the script exits non-zero, with its output in the log', async () => {
    const created = await client.createApplication(projectId, { name: 'doomed', subdomain: 'doomed', script: 'launcher/fail.py', runtime_identifier: PYTHON_RUNTIME });
    const failed = await waitForStatus(created.id, 'APPLICATION_FAILED');
    expect(failed.stopped_at).toBeDefined();
    expect(workspace.emulator.readLog(created.id)).toContain('cannot find the Ray head');
    expect(workspace.emulator.processOf(created.id)).toBeUndefined();
  });

  it('is FAILED without a process when a fault says it cannot start', async () => {
    workspace.emulator.setFaults({ failToStart: ['no-capacity'] });
    const created = await client.createApplication(projectId, { name: 'no-capacity', subdomain: 'no-capacity', script: 'launcher/app.py', runtime_identifier: PYTHON_RUNTIME });
    expect(created.status).toBe('APPLICATION_FAILED');
    expect(workspace.emulator.processOf(created.id)).toBeUndefined();
    workspace.emulator.setFaults({});
  });

  it('refuses a subdomain that is taken or malformed', async () => {
    await client.createApplication(projectId, { name: 'first', subdomain: 'shared-name', script: 'launcher/fail.py', runtime_identifier: PYTHON_RUNTIME });
    await expect(client.createApplication(projectId, { name: 'second', subdomain: 'shared-name', script: 'launcher/fail.py', runtime_identifier: PYTHON_RUNTIME })).rejects.toThrow(
      /409: subdomain "shared-name" is already in use/,
    );
    await expect(client.createApplication(projectId, { name: 'third', subdomain: 'double--dash', script: 'launcher/fail.py', runtime_identifier: PYTHON_RUNTIME })).rejects.toThrow(
      /invalid pattern/,
    );
  });
});

describe('job runs as processes', () => {
  it('runs the job script with the job’s and the run’s environment and arguments to success or failure', async () => {
    const job = await client.createJob(projectId, { name: 'setup', script: 'job.py', runtime_identifier: PYTHON_RUNTIME, arguments: '--default', environment: { STEP: 'venv' } });
    const run = await client.createJobRun(projectId, job.id, { arguments: '--python 3.11', environment: { RUN_ONLY: 'here' } });
    expect(run.status).toBe('ENGINE_SCHEDULING');
    const finished = await waitForRunEnd(job.id, run.id);
    expect(finished).toMatchObject({ status: 'ENGINE_SUCCEEDED', environment: { RUN_ONLY: 'here' } });
    expect(finished.finished_at).toBeDefined();
    expect(JSON.parse(readFileSync(join(projectDirectory, 'job-output.json'), 'utf8'))).toEqual({ args: ['--python', '3.11'], step: 'venv', run_only: 'here' });

    const failing = await client.createJobRun(projectId, job.id, { environment: { EXIT_CODE: '3' } });
    expect((await waitForRunEnd(job.id, failing.id)).status).toBe('ENGINE_FAILED');
    expect(workspace.emulator.readLog(failing.id)).toContain('exited with 3');
  });
});

describe('closing the emulator', () => {
  it('stops every process it started', async () => {
    const own = await emulatedWorkspace();
    const ownClient = own.client();
    await ownClient.uploadFile(own.projectId, 'app.py', APP_SCRIPT);
    const created = await ownClient.createApplication(own.projectId, { name: 'left', subdomain: 'left', script: 'app.py', runtime_identifier: PYTHON_RUNTIME });
    await pollUntil(async () => ((await ownClient.getApplication(own.projectId, created.id)).status === 'APPLICATION_RUNNING' ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 20,
      describe: () => 'the application to run',
    });
    const pid = own.emulator.processOf(created.id)?.pid ?? 0;
    expect(running(pid)).toBe(true);
    await own.close();
    expect(running(pid)).toBe(false);
  });
});
