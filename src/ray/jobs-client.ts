// A client of Ray's Jobs REST API (`/api/jobs/`) and package store (`/api/packages/`), over the dashboard client.
import { setTimeout as delay } from 'node:timers/promises';
import { RayfleetError } from '../errors.js';
import type { DashboardAnswer, DashboardClient, DashboardRequest } from './dashboard-client.js';

export const jobStatuses = ['PENDING', 'RUNNING', 'STOPPED', 'SUCCEEDED', 'FAILED'] as const;
export type JobStatus = (typeof jobStatuses)[number];

/** The statuses a job does not leave. */
export function isTerminal(status: JobStatus): boolean {
  return status === 'STOPPED' || status === 'SUCCEEDED' || status === 'FAILED';
}

/** `POST /api/jobs/`, Ray's `JobSubmitRequest`. */
export interface JobSubmitRequest {
  entrypoint: string;
  submission_id?: string | undefined;
  runtime_env?: Record<string, unknown> | undefined;
  metadata?: Record<string, string> | undefined;
  entrypoint_num_cpus?: number | undefined;
  entrypoint_num_gpus?: number | undefined;
  /** Bytes. */
  entrypoint_memory?: number | undefined;
  entrypoint_resources?: Record<string, number> | undefined;
}

/** `GET /api/jobs/{id}`, Ray's `JobDetails`; times are epoch milliseconds. */
export interface JobDetails {
  type: 'SUBMISSION' | 'DRIVER';
  job_id: string | null;
  submission_id: string | null;
  status: JobStatus;
  entrypoint: string;
  message: string | null;
  error_type: string | null;
  start_time: number | null;
  end_time: number | null;
  metadata: Record<string, string> | null;
  runtime_env: Record<string, unknown> | null;
  driver_node_id?: string | null;
  driver_exit_code: number | null;
}

/** How long a package upload may take: up to 100 MiB through the dashboard. */
const UPLOAD_TIMEOUT_MS = 300_000;
/** A submit waits for Ray to start the job's supervisor actor; Ray's own client waits as long. */
const SUBMIT_TIMEOUT_MS = 60_000;
/**
 * What Ray's job head answers (a 500) when the head node's dashboard agent has not registered within its 10 s wait
 * (Ray 2.60; seen right after a head came up on 2 busy cores). No job was made, and Ray asks to be asked again.
 */
const NO_AGENT_YET = 'No available agent to submit job, please try again later.';
/** Between those asks: Ray's own wait is the most of it, this keeps a Ray that answered at once from being flooded. */
const NO_AGENT_RETRY_MS = 500;

export class JobsClient {
  constructor(private readonly dashboard: DashboardClient) {}

  /**
   * Asked again while Ray says its head's agent is not up yet (each answer of that kind takes Ray 10 s): no new ask
   * starts a minute after the first, and each ask has the submit's own minute to be answered.
   */
  async submit(request: JobSubmitRequest, signal?: AbortSignal): Promise<{ submission_id: string; job_id: string | null }> {
    const started = Date.now();
    for (;;) {
      const answer = await this.dashboard.send('/api/jobs/', { method: 'POST', json: request, signal, timeoutMs: SUBMIT_TIMEOUT_MS });
      const agentNotUp = answer.status === 500 && answer.text.includes(NO_AGENT_YET);
      if (!agentNotUp || Date.now() - started >= SUBMIT_TIMEOUT_MS) return this.dashboard.parse('POST', '/api/jobs/', answer);
      await delay(NO_AGENT_RETRY_MS, undefined, { signal });
    }
  }

  async get(id: string, signal?: AbortSignal): Promise<JobDetails> {
    return this.json(`/api/jobs/${encodeURIComponent(id)}`, id, { signal });
  }

  /** Submission jobs and drivers, as Ray lists them. */
  async list(signal?: AbortSignal): Promise<JobDetails[]> {
    return this.dashboard.requestJson('/api/jobs/', { signal });
  }

  /** The job's whole log so far (Ray's endpoint has no offset: followers keep their own). */
  async logs(id: string, signal?: AbortSignal): Promise<string> {
    return (await this.json<{ logs: string }>(`/api/jobs/${encodeURIComponent(id)}/logs`, id, { signal })).logs;
  }

  /** Asks Ray to stop the job; false when it had already ended. */
  async stop(id: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.json<{ stopped: boolean }>(`/api/jobs/${encodeURIComponent(id)}/stop`, id, { method: 'POST', signal })).stopped;
  }

  /** Deletes an ended job's record and logs; Ray refuses a job still running. */
  async delete(id: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.json<{ deleted: boolean }>(`/api/jobs/${encodeURIComponent(id)}`, id, { method: 'DELETE', signal })).deleted;
  }

  /** Whether the cluster has a package (`_ray_pkg_<hash>.zip`) already; asking also pins it for a while, as Ray's own client does. */
  async hasPackage(name: string, signal?: AbortSignal): Promise<boolean> {
    const path = `/api/packages/gcs/${encodeURIComponent(name)}`;
    const answer = await this.dashboard.send(path, { signal });
    if (answer.status === 404) return false;
    if (answer.status >= 200 && answer.status < 300) return true;
    throw this.dashboard.httpError('GET', path, answer);
  }

  /** Uploads a package unless the cluster has it; the name is its content's hash, so one that exists is the same. */
  async uploadPackage(name: string, zip: Uint8Array, signal?: AbortSignal): Promise<'uploaded' | 'present'> {
    if (await this.hasPackage(name, signal)) return 'present';
    const path = `/api/packages/gcs/${encodeURIComponent(name)}`;
    const answer = await this.dashboard.send(path, { method: 'PUT', bytes: zip, signal, timeoutMs: UPLOAD_TIMEOUT_MS });
    if (answer.status < 200 || answer.status >= 300) throw this.dashboard.httpError('PUT', path, answer);
    return 'uploaded';
  }

  private async json<T>(path: string, id: string, request: DashboardRequest): Promise<T> {
    const answer = await this.dashboard.send(path, request);
    if (answer.status === 404) throw notFound(id, answer);
    if (answer.status < 200 || answer.status >= 300) throw this.dashboard.httpError(request.method ?? 'GET', path, answer);
    try {
      return JSON.parse(answer.text) as T;
    } catch (error) {
      throw new RayfleetError('RAY_REQUEST_FAILED', `Ray's Jobs API sent no JSON for ${path}`, { cause: error });
    }
  }
}

function notFound(id: string, answer: DashboardAnswer): RayfleetError {
  return new RayfleetError('JOB_NOT_FOUND', `no job ${id} on this cluster (${answer.text.trim() || 'Ray answered 404'})`, {
    details: '`rayfleet job list` shows the jobs the cluster knows.',
  });
}
