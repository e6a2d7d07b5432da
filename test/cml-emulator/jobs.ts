// Jobs and their runs: a run executes the job's script as a real process, SCHEDULING → STARTING → RUNNING →
// SUCCEEDED or FAILED by its exit code.
import { join } from 'node:path';
import { ApiError, GrpcCode } from './api-error.js';
import { engineEnvironment } from './engine-env.js';
import { listPage } from './listing.js';
import { checkRuntime } from './runtimes.js';
import { EMULATOR_USER, newEngineId, newId, now, type StoredJob, type StoredJobRun, type StoredProject } from './store.js';
import { Workload } from './workload.js';
import { bodyOf, enqueue, environmentOf, logLine, projectOf, render, requireText, type Handler, type World } from './world.js';

export function jobHandlers(world: World): Record<string, Handler> {
  return {
    ListJobs: async ({ params, query, operation }) => {
      const project = projectOf(world, params.project_id);
      const mine = [...world.store.jobs.values()].filter((job) => job.projectId === project.id);
      const page = listPage(
        mine.map((job) => renderJob(world, project, job)),
        query,
        operation,
      );
      return { jobs: page.items, next_page_token: page.next_page_token };
    },

    GetJob: async ({ params }) => {
      const job = jobOf(world, params.project_id, params.job_id);
      return renderJob(world, projectOf(world, job.projectId), job);
    },

    CreateJob: async (context) => {
      const project = projectOf(world, context.params.project_id);
      const body = bodyOf(context);
      const name = requireText(body, 'name', 'job name');
      const script = requireText(body, 'script', 'job script');
      checkRuntime(project, body);
      const parentId = body.parent_id ?? body.parent_job_id;
      if (parentId !== undefined && parentId !== '' && body.schedule !== undefined && body.schedule !== '') {
        throw new ApiError(GrpcCode.invalidArgument, 'a dependent job cannot have a schedule');
      }
      const { project_id: _projectId, parent_job_id: _parentJobId, environment: _environment, arguments: _arguments, ...rest } = body;
      const created = now(world.clock);
      const job: StoredJob = {
        id: newId(),
        projectId: project.id,
        name,
        script,
        arguments: typeof body.arguments === 'string' ? body.arguments : '',
        environment: environmentOf(body),
        fields: {
          ...rest,
          cpu: body.cpu ?? 1,
          memory: body.memory ?? 1,
          nvidia_gpu: body.nvidia_gpu ?? 0,
          parent_id: parentId,
          type: parentId !== undefined && parentId !== '' ? 'dependent' : body.schedule !== undefined && body.schedule !== '' ? 'cron' : 'manual',
          engine_image_id: 0,
          created_at: created,
          updated_at: created,
        },
      };
      world.store.jobs.set(job.id, job);
      return renderJob(world, project, job);
    },

    DeleteJob: async ({ params }) => {
      const job = jobOf(world, params.project_id, params.job_id);
      const runs = [...world.store.runs.values()].filter((run) => run.jobId === job.id);
      await Promise.all(runs.map((run) => stopJobRun(world, run)));
      for (const run of runs) world.store.runs.delete(run.id);
      world.store.jobs.delete(job.id);
      return {};
    },

    ListJobRuns: async ({ params, query, operation }) => {
      const job = jobOf(world, params.project_id, params.job_id);
      const runs = [...world.store.runs.values()].filter((run) => run.jobId === job.id);
      const page = listPage(
        runs.map((run) => renderRun(world, run)),
        query,
        operation,
      );
      return { job_runs: page.items, next_page_token: page.next_page_token };
    },

    GetJobRun: async ({ params }) => {
      const job = jobOf(world, params.project_id, params.job_id);
      const run = world.store.runs.get(params.run_id ?? '');
      if (run === undefined || run.jobId !== job.id) throw new ApiError(GrpcCode.notFound, `job run ${JSON.stringify(params.run_id)} not found`);
      return renderRun(world, run);
    },

    CreateJobRun: async (context) => {
      const job = jobOf(world, context.params.project_id, context.params.job_id);
      const project = projectOf(world, job.projectId);
      const body = bodyOf(context);
      const created = now(world.clock);
      const id = newId();
      const run: StoredJobRun = {
        id,
        projectId: project.id,
        jobId: job.id,
        status: 'ENGINE_SCHEDULING',
        arguments: typeof body.arguments === 'string' && body.arguments !== '' ? body.arguments : job.arguments,
        environment: environmentOf(body),
        generation: 0,
        lifecycle: Promise.resolve(),
        workload: undefined,
        engineId: undefined,
        logPath: join(world.logsDirectory, `run-${id}.log`),
        fields: {
          kernel: job.fields.kernel,
          cpu: job.fields.cpu,
          memory: job.fields.memory,
          nvidia_gpu: job.fields.nvidia_gpu,
          runtime_identifier: job.fields.runtime_identifier,
          resource_group_id: job.fields.resource_group_id,
          created_at: created,
          scheduling_at: created,
        },
      };
      world.store.runs.set(id, run);
      startJobRun(world, project, job, run);
      return renderRun(world, run);
    },
  };
}

function startJobRun(world: World, project: StoredProject, job: StoredJob, run: StoredJobRun): void {
  const generation = run.generation;
  void enqueue(run, async () => {
    if (run.generation !== generation) return;
    run.status = 'ENGINE_STARTING';
    run.fields.starting_at = now(world.clock);
    const engineId = newEngineId();
    const env = engineEnvironment(
      { projectId: project.id, projectName: project.name, projectDirectory: project.directory, domain: world.domain, apiUrl: world.url, apiKey: world.apiKey, engineId },
      project.environment,
      { ...job.environment, ...run.environment },
      {},
    );
    // CML hands the arguments string to the script; the emulator splits it on blanks.
    const args = [job.script, ...run.arguments.split(/\s+/).filter((argument) => argument !== '')];
    logLine(run, `starting engine ${engineId}: ${world.python} ${args.join(' ')}`);
    let workload: Workload;
    try {
      workload = await Workload.start({ command: world.python, args, cwd: project.directory, env, logPath: run.logPath });
    } catch (error) {
      logLine(run, `cannot start: ${(error as Error).message}`);
      finish(world, run, 'ENGINE_FAILED');
      return;
    }
    Object.assign(run, { workload, engineId, status: 'ENGINE_RUNNING' });
    run.fields.running_at = now(world.clock);
    void workload.exited.then((exit) => {
      if (run.generation !== generation) return; // Stopped on purpose.
      logLine(run, `engine ${engineId} exited with ${exit.code ?? exit.signal}`);
      finish(world, run, exit.code === 0 ? 'ENGINE_SUCCEEDED' : 'ENGINE_FAILED');
      void enqueue(run, async () => {
        if (run.workload === workload) run.workload = undefined;
        await workload.stop(world.stopGraceMs);
      });
    });
  });
}

/** Ends a run that is still going (STOPPED); a finished run keeps its status. */
export function stopJobRun(world: World, run: StoredJobRun): Promise<void> {
  run.generation += 1;
  const active = !['ENGINE_SUCCEEDED', 'ENGINE_FAILED', 'ENGINE_TIMEDOUT', 'ENGINE_STOPPED', 'ENGINE_SKIPPED'].includes(run.status);
  if (active) run.status = 'ENGINE_STOPPING';
  return enqueue(run, async () => {
    const workload = run.workload;
    run.workload = undefined;
    if (workload !== undefined) await workload.stop(world.stopGraceMs);
    if (active) finish(world, run, 'ENGINE_STOPPED');
  });
}

function finish(world: World, run: StoredJobRun, status: string): void {
  run.status = status;
  run.fields.finished_at = now(world.clock);
}

function jobOf(world: World, projectId: string | undefined, jobId: string | undefined): StoredJob {
  const project = projectOf(world, projectId);
  const job = world.store.jobs.get(jobId ?? '');
  if (job === undefined || job.projectId !== project.id) throw new ApiError(GrpcCode.notFound, `job ${JSON.stringify(jobId)} not found`);
  return job;
}

function renderJob(world: World, project: StoredProject, job: StoredJob): Record<string, unknown> {
  return render(world, 'Job', {
    ...job.fields,
    id: job.id,
    name: job.name,
    script: job.script,
    arguments: job.arguments,
    environment: job.environment,
    project: { public_identifier: project.id, name: project.name, default_project_engine: project.fields.default_engine_type, slug: project.fields.slug },
    owner: EMULATOR_USER,
    creator: EMULATOR_USER,
  });
}

function renderRun(world: World, run: StoredJobRun): Record<string, unknown> {
  return render(world, 'JobRun', {
    ...run.fields,
    id: run.id,
    project_id: run.projectId,
    job_id: run.jobId,
    status: run.status,
    arguments: run.arguments,
    environment: run.environment,
    creator: EMULATOR_USER,
  });
}
