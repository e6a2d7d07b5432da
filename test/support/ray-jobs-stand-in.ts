// A stand-in for the Jobs and package routes of Ray's dashboard, for unit tests of the clients: the same paths, bodies and statuses as Ray 2.60.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JobDetails, JobStatus } from '../../src/ray/jobs-client.js';

export const STAND_IN_TOKEN = 'stand-in-token';

export interface StandInJob {
  details: JobDetails;
  logs: string;
  /** Stopped but not yet ended: the next status poll finds it STOPPED, as Ray's does once the process has exited. */
  stopping?: boolean;
}

export interface SeenRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  body: Buffer;
}

export class StandInJobsApi {
  readonly jobs = new Map<string, StandInJob>();
  readonly packages = new Map<string, Buffer>();
  readonly seen: SeenRequest[] = [];
  /** Answers to give before the real ones, whatever is asked. */
  readonly nextAnswers: Array<{ status: number; body: string }> = [];
  /** Called on each GET of a job's status, before it answers: a test moves the job on here. */
  onStatusPoll: (job: StandInJob) => void = () => undefined;
  private server: Server | undefined;
  private submitted = 0;

  async start(): Promise<string> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }

  addJob(id: string, status: JobStatus, logs = ''): StandInJob {
    const job: StandInJob = {
      details: {
        type: 'SUBMISSION',
        job_id: null,
        submission_id: id,
        status,
        entrypoint: 'python job.py',
        message: null,
        error_type: null,
        start_time: 1_000,
        end_time: null,
        metadata: {},
        runtime_env: {},
        driver_exit_code: null,
      },
      logs,
    };
    this.jobs.set(id, job);
    return job;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const method = request.method ?? 'GET';
    const url = request.url ?? '';
    this.seen.push({ method, url, authorization: request.headers.authorization, body });
    const text = (status: number, value: string): void => void response.writeHead(status, { 'content-type': 'text/plain' }).end(value);
    const json = (value: unknown, status = 200): void => void response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    const next = this.nextAnswers.shift();
    if (next !== undefined) return text(next.status, next.body);
    if (request.headers.authorization !== `Bearer ${STAND_IN_TOKEN}`) return text(401, 'Unauthorized: Missing authentication token');
    // As Ray's dashboard does (optional_utils.is_browser_request): what fetch() sends makes a POST look like a browser's.
    const browserLike = (request.headers['user-agent'] ?? '').startsWith('Mozilla') || Object.keys(request.headers).some((name) => name.startsWith('sec-fetch-') || name === 'origin' || name === 'referer');
    if (method !== 'GET' && browserLike) return text(405, `'${method}' method not allowed for browser traffic.`);

    const pkg = /^\/api\/packages\/gcs\/([^/]+)$/.exec(url);
    if (pkg?.[1] !== undefined) {
      const name = decodeURIComponent(pkg[1]);
      if (method === 'PUT') {
        this.packages.set(name, body);
        return text(200, '');
      }
      return this.packages.has(name) ? text(200, '') : text(404, `Package gcs://${name} does not exist`);
    }
    if (url === '/api/jobs/' && method === 'POST') {
      const submit = JSON.parse(body.toString()) as { entrypoint: string; submission_id?: string; runtime_env?: Record<string, unknown> };
      if (typeof submit.entrypoint !== 'string') return text(400, 'Traceback (most recent call last):\n  ...\nTypeError: entrypoint is required');
      this.submitted += 1;
      const id = submit.submission_id ?? `raysubmit_${this.submitted}`;
      const job = this.addJob(id, 'PENDING');
      job.details.entrypoint = submit.entrypoint;
      job.details.runtime_env = submit.runtime_env ?? {};
      return json({ job_id: null, submission_id: id });
    }
    if (url === '/api/jobs/' && method === 'GET') return json([...this.jobs.values()].map((job) => job.details));
    const route = /^\/api\/jobs\/([^/]+)(\/logs|\/stop)?$/.exec(url);
    const job = route?.[1] === undefined ? undefined : this.jobs.get(decodeURIComponent(route[1]));
    if (route === null) return text(404, 'no such route');
    if (job === undefined) return text(404, `Job ${route[1] ?? ''} does not exist`);
    if (route[2] === '/logs') return json({ logs: job.logs });
    if (route[2] === '/stop') {
      const running = job.details.status === 'PENDING' || job.details.status === 'RUNNING';
      job.stopping = running;
      return json({ stopped: running });
    }
    if (method === 'DELETE') {
      this.jobs.delete(job.details.submission_id ?? '');
      return json({ deleted: true });
    }
    this.onStatusPoll(job);
    const answer = { ...job.details };
    if (job.stopping === true) {
      job.stopping = false;
      job.details.status = 'STOPPED';
    }
    return json(answer);
  }
}
