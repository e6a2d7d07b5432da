// `rayfleet cai setup`: a project with rayfleet's launchers in it and a venv with Ray and Node, built by a CML job.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { RayfleetError } from '../../errors.js';
import { packageFile } from '../../package-files.js';
import { pollUntil } from '../../wait/poll-until.js';
import type { CmlClient } from './cml/cml-client.js';
import { TERMINAL_ENGINE_STATUSES, type JobRun, type Project } from './cml/cml-types.js';
import { BUNDLE, BUNDLE_PAGE_DIR, BUNDLE_PROTO, LAUNCHER_SCRIPT, SETUP_SCRIPT } from './project-layout.js';

export interface CaiSetupOptions {
  client: CmlClient;
  /** An existing project; else one found or created by `projectName`. */
  projectId?: string | undefined;
  projectName?: string | undefined;
  /** Import the new project from this repository. */
  gitUrl?: string | undefined;
  runtimeIdentifier: string;
  rayVersion: string;
  /** Where the job builds the venv (default /home/cdsw/.venv). */
  venv?: string | undefined;
  /** How long the job may take. */
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  onProgress?: (line: string) => void;
}

export interface CaiSetupResult {
  projectId: string;
  jobId: string;
  runId: string;
  status: string;
}

export const SETUP_JOB_NAME = 'rayfleet-setup-env';
/** The single-file build `npm run build` makes, and the proto and the page's assets it reads from beside itself. */
const BUNDLE_FILE = packageFile('dist/rayfleet.mjs');
const PROTO_FILE = packageFile('proto/autoscaler.proto');
const PAGE_DIR = packageFile('dist/page');
const DEFAULT_TIMEOUT_MS = 30 * 60_000;

export async function caiSetup(options: CaiSetupOptions): Promise<CaiSetupResult> {
  const { client, signal } = options;
  const progress = options.onProgress ?? (() => undefined);
  const project = await resolveProject(options);
  progress(`project ${project.name ?? ''} (${project.id})`);

  // Uploads never overwrite in CML: each file is deleted first.
  for (const [target, source] of [
    [LAUNCHER_SCRIPT, packageFile('launchers/ray_launcher.py')],
    [SETUP_SCRIPT, packageFile('launchers/setup_env.py')],
    // The in-cluster watcher: rayfleet in one file, run by the venv's Node on the head.
    [BUNDLE, BUNDLE_FILE],
    [BUNDLE_PROTO, PROTO_FILE],
    // The head's dashboard serves its page's script and styles from there.
    ...(await readdir(PAGE_DIR)).map((file) => [`${BUNDLE_PAGE_DIR}/${file}`, path.join(PAGE_DIR, file)] as const),
  ]) {
    await client.uploadFile(project.id, target, await readFile(source), { replace: true }, signal);
    progress(`uploaded ${target}`);
  }

  // The job is made afresh, so it carries this setup's settings.
  for (const job of await client.findJobsByName(project.id, SETUP_JOB_NAME, signal)) await client.deleteJob(project.id, job.id, signal);
  const environment: Record<string, string> = { RAYFLEET_RAY_VERSION: options.rayVersion };
  if (options.venv !== undefined) environment.RAYFLEET_VENV = options.venv;
  const job = await client.createJob(
    project.id,
    { name: SETUP_JOB_NAME, script: SETUP_SCRIPT, runtime_identifier: options.runtimeIdentifier, cpu: 2, memory: 4, timeout: Math.round((options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000), environment },
    signal,
  );
  const started = await client.createJobRun(project.id, job.id, {}, signal);
  progress(`job ${SETUP_JOB_NAME} run ${started.id}: building the venv (ray ${options.rayVersion}, node)`);
  const run = await pollUntil(
    async (): Promise<JobRun | undefined> => {
      const current = await client.getJobRun(project.id, job.id, started.id, signal);
      return TERMINAL_ENGINE_STATUSES.has(current.status) ? current : undefined;
    },
    { timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, intervalMs: 2000, signal, describe: () => `the setup job run ${started.id} to end` },
  );
  if (run.status !== 'ENGINE_SUCCEEDED') {
    const log = await client.readTextFile(project.id, '.rayfleet/setup.log', signal).catch(() => undefined);
    throw new RayfleetError('CAI_FAILED', `the setup job ended ${run.status}`, {
      details: log === undefined ? 'It left no log in .rayfleet/setup.log.' : `last lines of .rayfleet/setup.log:\n${log.trim().split('\n').slice(-20).join('\n')}`,
    });
  }
  return { projectId: project.id, jobId: job.id, runId: run.id, status: run.status };
}

async function resolveProject(options: CaiSetupOptions): Promise<Project> {
  const { client, signal } = options;
  if (options.projectId !== undefined) return client.getProject(options.projectId, signal);
  const name = options.projectName;
  if (name === undefined) throw new RayfleetError('USAGE', 'name a project: --project-id ID (or CML_PROJECT_ID), or --project-name NAME to find or create one');
  const found = await client.findProjectsByName(name, signal);
  if (found[0] !== undefined) return found[0];
  options.onProgress?.(`creating project ${name}${options.gitUrl === undefined ? '' : ` from ${options.gitUrl}`}`);
  const created = await client.createProject(
    options.gitUrl === undefined ? { name, template: 'local' } : { name, template: 'git', git_url: options.gitUrl },
    signal,
  );
  // A git import is asynchronous: the project is usable once its creation status leaves `creating`.
  const ready = await pollUntil(
    async () => {
      const current = await client.getProject(created.id, signal);
      return current.creation_status === 'creating' ? undefined : current;
    },
    { timeoutMs: 10 * 60_000, intervalMs: 1000, signal, describe: () => `project ${name} to be created` },
  );
  if (ready.creation_status === 'failure') throw new RayfleetError('CAI_FAILED', `creating project ${name} failed (git import of ${options.gitUrl ?? '-'})`);
  return ready;
}
