// Jobs on one cluster: submit (local working dirs uploaded), follow the log to the end without losing a line, stop, list, delete.
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { RayfleetError, isRayfleetError } from '../errors.js';
import { DashboardHttpError } from '../ray/dashboard-http-error.js';
import { isTerminal, JobsClient, type JobDetails, type JobSubmitRequest } from '../ray/jobs-client.js';
import { uploadLocalPaths, type RuntimeEnv, type UploadedPackage } from '../ray/runtime-env.js';
import { pollUntil } from '../wait/poll-until.js';
import type { WorkContext } from './work-context.js';

/** The error type of a job shown FAILED because the node its driver ran on died (Ray's own types are JOB_SUPERVISOR_…). */
export const DRIVER_NODE_DIED = 'DRIVER_NODE_DIED';
/** How long a deleted job may take to stay gone (its supervisor's last write can bring it back once). */
const DELETE_SETTLE_MS = 15_000;
/** How long a deleted job must stay gone before `delete` returns: its supervisor's last write comes within this. */
const GONE_FOR_MS = 2_000;

export interface SubmitJobOptions {
  entrypoint: string;
  submissionId?: string | undefined;
  runtimeEnv?: RuntimeEnv | undefined;
  /** A local directory (zipped and uploaded) or a remote URI; replaces the runtime env's own, as in `ray job submit`. */
  workingDir?: string | undefined;
  metadata?: Record<string, string> | undefined;
  entrypointNumCpus?: number | undefined;
  entrypointNumGpus?: number | undefined;
  entrypointMemoryBytes?: number | undefined;
  entrypointResources?: Record<string, number> | undefined;
  /** What relative paths in the runtime env are relative to; the process's working directory when absent. */
  baseDir?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface SubmittedJob {
  submissionId: string;
  /** The local paths uploaded as packages, with the URIs the job names them by. */
  uploaded: UploadedPackage[];
}

export interface FollowOptions {
  /** Receives the log as it grows, in order; every character exactly once. */
  write: (text: string) => void;
  signal?: AbortSignal | undefined;
  /** Start after this many characters of the log (a follower resuming, or `--tail`). */
  fromOffset?: number | undefined;
  /** This caller submitted the job: its end is journalled even when the first look finds it ended already. */
  submittedHere?: boolean | undefined;
}

export interface FleetJobsOptions {
  pollIntervalMs?: number | undefined;
  /** How long Ray may stay unreachable while a job is followed before following gives up. */
  unreachableForMs?: number | undefined;
}

const DEFAULT_POLL_INTERVAL_MS = 500;
const DEFAULT_UNREACHABLE_FOR_MS = 60_000;

export class FleetJobs {
  private clientInstance: JobsClient | undefined;
  private readonly pollIntervalMs: number;
  private readonly unreachableForMs: number;

  constructor(
    private readonly context: WorkContext,
    options: FleetJobsOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.unreachableForMs = options.unreachableForMs ?? DEFAULT_UNREACHABLE_FOR_MS;
  }

  /** Submits a job; a local working dir or py_modules path is uploaded first (refused over Ray's limit before anything is sent). */
  async submit(options: SubmitJobOptions): Promise<SubmittedJob> {
    const client = await this.client(options.signal);
    const runtimeEnv: RuntimeEnv = { ...options.runtimeEnv, ...(options.workingDir === undefined ? {} : { working_dir: options.workingDir }) };
    const { runtimeEnv: resolved, uploaded } = await uploadLocalPaths(runtimeEnv, {
      baseDir: options.baseDir ?? process.cwd(),
      upload: ({ name, zip }) => client.uploadPackage(name, zip, options.signal),
    });
    const request: JobSubmitRequest = {
      entrypoint: options.entrypoint,
      submission_id: options.submissionId,
      runtime_env: Object.keys(resolved).length > 0 ? resolved : undefined,
      metadata: options.metadata,
      entrypoint_num_cpus: options.entrypointNumCpus,
      entrypoint_num_gpus: options.entrypointNumGpus,
      entrypoint_memory: options.entrypointMemoryBytes,
      entrypoint_resources: options.entrypointResources,
    };
    const answer = await client.submit(request, options.signal);
    const resources = [
      options.entrypointNumCpus === undefined ? undefined : `${options.entrypointNumCpus} CPU`,
      options.entrypointNumGpus === undefined ? undefined : `${options.entrypointNumGpus} GPU`,
    ].filter((part) => part !== undefined);
    await this.context.record({
      type: 'job-submitted',
      jobId: answer.submission_id,
      entrypoint: options.entrypoint,
      reason: `submitted to ${this.context.cluster}${resources.length > 0 ? ` asking ${resources.join(', ')}` : ''}${uploaded.length > 0 ? `, ${uploaded.map((pkg) => `${pkg.source} as ${pkg.uri}`).join(', ')}` : ''}`,
    });
    return { submissionId: answer.submission_id, uploaded };
  }

  async status(id: string, signal?: AbortSignal): Promise<JobDetails> {
    return this.withDriverNode(await (await this.client(signal)).get(id, signal), signal);
  }

  async list(signal?: AbortSignal): Promise<JobDetails[]> {
    const listed = await (await this.client(signal)).list(signal);
    return Promise.all(listed.map((job) => this.withDriverNode(job, signal)));
  }

  /**
   * A job Ray still calls running whose driver's node Ray has DEAD is shown FAILED, with why. Ray 2.60 leaves such a job
   * RUNNING after a fault-tolerant head restarted (its supervisor and driver died with the old head; measured: still
   * RUNNING 110 s after the new head was up), and a job that can no longer end would keep `job submit` following forever.
   */
  private async withDriverNode(job: JobDetails, signal: AbortSignal | undefined): Promise<JobDetails> {
    const node = job.driver_node_id;
    if (isTerminal(job.status) || this.context.deadRayNode === undefined || node === undefined || node === null || node === '') return job;
    const dead = await this.context.deadRayNode(node, signal).catch(() => undefined);
    if (dead === undefined) return job;
    return {
      ...job,
      status: 'FAILED',
      error_type: DRIVER_NODE_DIED,
      message: `the node its driver ran on (${dead}) is DEAD in Ray, which still reports the job ${job.status}${job.message === null || job.message === '' ? '' : ` ("${job.message}")`}`,
    };
  }

  /** The log so far. */
  async logs(id: string, signal?: AbortSignal): Promise<string> {
    const client = await this.client(signal);
    return this.readLog(client, await client.get(id, signal), id, signal);
  }

  /**
   * Writes the log as it grows until the job ends, and returns how it ended. Ray's log endpoint has no offset, so this
   * keeps its own: status first, then the log, so a log read after a terminal status is complete, and the part not yet
   * shown is written then (Ray's own CLI loses last lines: ray-project/ray #48701, #46413, #51601). While the job runs,
   * only whole lines are written, so a line is never split by a poll.
   */
  async follow(id: string, options: FollowOptions): Promise<JobDetails> {
    const { signal, write } = options;
    const client = await this.client(signal);
    let shown = options.fromOffset ?? 0;
    return this.pollUntilEnded(signal, options.submittedHere === true, async () => {
      const details = await this.withDriverNode(await client.get(id, signal), signal);
      const text = await this.readLog(client, details, id, signal);
      if (isTerminal(details.status)) {
        if (text.length > shown) write(text.slice(shown));
        return details;
      }
      const end = text.lastIndexOf('\n') + 1;
      if (end > shown) {
        write(text.slice(shown, end));
        shown = end;
      }
      return undefined;
    });
  }

  /**
   * The job's log from Ray's API, or from the driver's own file where the backend knows a fuller one on this machine
   * (a worker-node driver of a local cluster, whose output Ray's API does not find).
   */
  private readonly driverLogFiles = new Map<string, string>();

  private async readLog(client: JobsClient, details: JobDetails, id: string, signal?: AbortSignal): Promise<string> {
    const text = await client.logs(id, signal);
    const driverNode = details.driver_node_id;
    if (this.context.driverLogFile === undefined || driverNode === undefined || driverNode === null || driverNode === '') return text;
    // Where a driver ran does not change: asked once per job, not at every poll of a follow (it reads the GCS).
    const key = `${driverNode} ${details.submission_id ?? id}`;
    let file = this.driverLogFiles.get(key);
    if (file === undefined) {
      file = await this.context.driverLogFile(driverNode, details.submission_id ?? id, signal);
      if (file !== undefined) this.driverLogFiles.set(key, file);
    }
    const fromFile = file === undefined ? undefined : await readFile(file, 'utf8').catch(() => undefined);
    return fromFile !== undefined && fromFile.length > text.length ? fromFile : text;
  }

  /** Waits until the job ends, without its log. */
  async waitUntilEnded(id: string, signal?: AbortSignal, endIsNews = false): Promise<JobDetails> {
    const client = await this.client(signal);
    return this.pollUntilEnded(signal, endIsNews, async () => {
      const details = await client.get(id, signal);
      return isTerminal(details.status) ? details : undefined;
    });
  }

  /**
   * Polls until `poll` returns the ended job. No deadline (a job runs as long as it runs), but a Ray that stays
   * unreachable gives up after a while; a dashboard that misses one poll is asked again.
   */
  private async pollUntilEnded(signal: AbortSignal | undefined, endIsNews: boolean, poll: () => Promise<JobDetails | undefined>): Promise<JobDetails> {
    let lastAnswer = Date.now();
    let sawRunning = endIsNews;
    for (;;) {
      signal?.throwIfAborted();
      try {
        const ended = await poll();
        if (ended !== undefined) {
          // The end is journalled by whoever saw it happen, not again by each later look at an ended job.
          if (sawRunning) await this.recordEnd(ended);
          return ended;
        }
        sawRunning = true;
        lastAnswer = Date.now();
      } catch (error) {
        if (signal?.aborted === true || !isRetried(error) || Date.now() - lastAnswer > this.unreachableForMs) throw error;
      }
      await delay(this.pollIntervalMs, undefined, { signal });
    }
  }

  /** Asks Ray to stop the job and, unless told not to, waits until it has; returns the job as it is then. */
  async stop(id: string, options: { wait?: boolean; signal?: AbortSignal } = {}): Promise<JobDetails> {
    const client = await this.client(options.signal);
    const stopped = await client.stop(id, options.signal);
    if (options.wait === false) return client.get(id, options.signal);
    return this.waitUntilEnded(id, options.signal, stopped);
  }

  /** Deletes an ended job's record and log. */
  async delete(id: string, signal?: AbortSignal): Promise<void> {
    const client = await this.client(signal);
    const details = await client.get(id, signal);
    if (!isTerminal(details.status)) {
      throw new RayfleetError('USAGE', `job ${id} is ${details.status}; only an ended job can be deleted`, {
        details: `Stop it first: \`rayfleet job stop ${id} -c ${this.context.cluster}\`.`,
      });
    }
    await client.delete(id, signal);
    // A stopped job's supervisor may write its final status just after the delete, bringing the job back (seen in the
    // jobs e2e test: `job status` found it after `job delete`, once even after a first look had it gone). Ray says
    // nothing when that last write is done, so the job is deleted again until it has stayed gone GONE_FOR_MS.
    let goneSince: number | undefined;
    await pollUntil(
      async () => {
        const back = await client.get(id, signal).catch((error: unknown) => {
          if (isRayfleetError(error, 'JOB_NOT_FOUND')) return undefined;
          throw error;
        });
        if (back === undefined) {
          goneSince ??= Date.now();
          return Date.now() - goneSince >= GONE_FOR_MS ? true : undefined;
        }
        goneSince = undefined;
        await client.delete(id, signal);
        return undefined;
      },
      { timeoutMs: DELETE_SETTLE_MS, intervalMs: 250, signal, describe: () => `job ${id} to be gone from Ray` },
    );
  }

  private async recordEnd(details: JobDetails): Promise<void> {
    const took = details.start_time !== null && details.end_time !== null ? ` after ${Math.round((details.end_time - details.start_time) / 100) / 10} s` : '';
    const why = [details.error_type, details.message].filter((part) => part !== null && part !== '').join(': ');
    await this.context.record({
      type: 'job-ended',
      jobId: details.submission_id ?? details.job_id ?? 'unknown',
      status: details.status,
      reason: `${details.status.toLowerCase()}${took}${details.driver_exit_code === null ? '' : `, exit code ${details.driver_exit_code}`}${why === '' ? '' : ` (${why})`}`,
    });
  }

  private async client(signal?: AbortSignal): Promise<JobsClient> {
    this.clientInstance ??= new JobsClient(await this.context.dashboard(signal));
    return this.clientInstance;
  }
}

/** A dashboard that did not answer, or answered 5xx, may answer the next poll; anything else (no such job, a refused token) will not. */
function isRetried(error: unknown): boolean {
  return isRayfleetError(error, 'RAY_UNREACHABLE') || (error instanceof DashboardHttpError && error.status >= 500 && error.status < 600);
}

/**
 * The entrypoint a job runs in a shell (Ray starts it with `shell=True`): one argument is a command line as written;
 * several are words, each quoted as a POSIX shell needs, so `-- python -c 'print(1)'` runs as typed.
 */
export function entrypointOf(words: string[]): string {
  if (words.length === 1) return words[0] ?? '';
  return words.map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`)).join(' ');
}
