// A stand-in for the Jobs, package and Serve routes of Ray's dashboard, for unit tests of the clients: the same paths, bodies and statuses as Ray 2.60.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JobDetails, JobStatus } from '../../src/ray/jobs-client.js';
import type { ApplicationDetails, ServeApplicationConfig, ServeDeployConfig } from '../../src/ray/serve-client.js';

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

export class StandInDashboard {
  readonly jobs = new Map<string, StandInJob>();
  /** Called after a job is deleted: a test may bring it back, as a stopped job's supervisor writing late does in Ray. */
  afterJobDelete: ((job: StandInJob) => void) | undefined;
  readonly packages = new Map<string, Buffer>();
  readonly seen: SeenRequest[] = [];
  /** Answers to give before the real ones, whatever is asked. */
  readonly nextAnswers: Array<{ status: number; body: string }> = [];
  /** Called on each GET of a job's status, before it answers: a test moves the job on here. */
  onStatusPoll: (job: StandInJob) => void = () => undefined;
  /** Serve's applications; none until the first PUT starts Serve. */
  readonly apps = new Map<string, ApplicationDetails>();
  /** The cluster-wide part of the last Serve PUT. */
  serveSettings: Omit<ServeDeployConfig, 'applications'> | undefined;
  /** The body of a 400 the next Serve PUT gets, as Ray's validation answers. */
  refuseNextServePut: string | undefined;
  /** Called after each Serve PUT is applied: a test makes another deploy land right after it here. */
  afterServePut: (config: ServeDeployConfig) => void = () => undefined;
  /** How many GETs of Serve's details an application stays DEPLOYING before it is RUNNING (or DEPLOY_FAILED: import paths starting `broken`). */
  deployingPolls = 1;
  private server: Server | undefined;
  private readonly pollsLeft = new Map<string, number>();
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

  /** What Ray's controller does with a PUT: the listed applications are the set; one whose config changed deploys again; the rest are deleted. */
  applyServeConfig(config: ServeDeployConfig): void {
    const { applications, ...settings } = config;
    this.serveSettings = settings;
    const listed = new Set(applications.map((app) => app.name));
    for (const [name, app] of this.apps) if (!listed.has(name)) app.status = 'DELETING';
    for (const app of applications) {
      const existing = this.apps.get(app.name);
      if (existing !== undefined && JSON.stringify(existing.deployed_app_config) === JSON.stringify(app)) continue;
      this.apps.set(app.name, standInApplication(app));
      this.pollsLeft.set(app.name, this.deployingPolls);
    }
  }

  /** One controller step per GET: DELETING ones go, DEPLOYING ones count down to RUNNING or DEPLOY_FAILED. */
  private advanceServe(): void {
    for (const [name, app] of this.apps) {
      if (app.status === 'DELETING') {
        this.apps.delete(name);
        continue;
      }
      if (app.status !== 'DEPLOYING') continue;
      const left = (this.pollsLeft.get(name) ?? 0) - 1;
      this.pollsLeft.set(name, left);
      if (left > 0) continue;
      const broken = app.deployed_app_config?.import_path.startsWith('broken') === true;
      app.status = broken ? 'DEPLOY_FAILED' : 'RUNNING';
      app.message = broken ? 'Traceback (most recent call last):\n  File "app.py", line 1\nModuleNotFoundError: No module named \'broken\'' : '';
      for (const deployment of Object.values(app.deployments)) {
        deployment.status = broken ? 'UNHEALTHY' : 'HEALTHY';
        deployment.replicas = broken ? [] : [{ replica_id: 'r1', state: 'RUNNING', node_id: 'node1' }];
      }
    }
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

    if (url === '/api/serve/applications/') {
      if (method === 'PUT') {
        const refusal = this.refuseNextServePut;
        this.refuseNextServePut = undefined;
        if (refusal !== undefined) return text(400, refusal);
        const config = JSON.parse(body.toString()) as ServeDeployConfig;
        this.applyServeConfig(config);
        this.afterServePut(config);
        return text(200, '');
      }
      if (method === 'DELETE') {
        this.apps.clear();
        this.serveSettings = undefined;
        return text(200, '');
      }
      this.advanceServe();
      return json({
        proxy_location: this.serveSettings?.proxy_location ?? null,
        http_options: this.serveSettings?.http_options ?? null,
        proxies: this.serveSettings === undefined ? {} : { node1: { status: 'HEALTHY' } },
        applications: Object.fromEntries(this.apps),
        target_capacity: null,
      });
    }
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
      this.afterJobDelete?.(job);
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

function standInApplication(config: ServeApplicationConfig): ApplicationDetails {
  const deploymentName = typeof config.deployments?.[0]?.name === 'string' ? config.deployments[0].name : 'Main';
  const app: ApplicationDetails = {
    name: config.name,
    route_prefix: config.route_prefix === undefined ? `/${config.name}` : config.route_prefix,
    status: 'DEPLOYING',
    message: '',
    last_deployed_time_s: Date.now() / 1000,
    deployed_app_config: JSON.parse(JSON.stringify(config)) as ServeApplicationConfig,
    deployments: { [deploymentName]: { name: deploymentName, status: 'UPDATING', message: '', replicas: [{ replica_id: 'r1', state: 'STARTING', node_id: null }] } },
  };
  return app;
}
