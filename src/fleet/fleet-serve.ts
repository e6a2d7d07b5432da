// Serve on one cluster, per application: deploy merges into what runs (others kept, a concurrent change retried), delete one, status, shutdown.
import { setTimeout as delay } from 'node:timers/promises';
import { RayfleetError, isRayfleetError } from '../errors.js';
import { JobsClient } from '../ray/jobs-client.js';
import { uploadLocalPaths, type RuntimeEnv, type UploadedPackage } from '../ray/runtime-env.js';
import { ServeClient, type ApplicationDetails, type ApplicationStatus, type ServeApplicationConfig, type ServeDeployConfig, type ServeInstanceDetails } from '../ray/serve-client.js';
import { pollUntil } from '../wait/poll-until.js';
import type { ServeContext } from './work-context.js';

export interface DeployOptions {
  /** A Serve config in Ray's own schema (`applications: [...]`), as read from its file. */
  config: ServeDeployConfig;
  /** What local paths in the config are relative to: the config file's folder. */
  baseDir: string;
  /** Deploy only this application of the config. */
  app?: string | undefined;
  /** Wait until every deployed application is RUNNING (the default), or return once Ray has the config. */
  wait?: boolean | undefined;
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface ApplicationSummary {
  name: string;
  status: ApplicationStatus;
  message: string;
  routePrefix: string | null;
  /** Where this machine reaches the application over HTTP; null when it has no route. */
  url: string | null;
  deployments: Array<{ name: string; status: string; replicas: Record<string, number> }>;
}

export interface DeployResult {
  applications: ApplicationSummary[];
  uploaded: UploadedPackage[];
  /** How many read-merge-write rounds it took: more than one when another deploy changed the set meanwhile. */
  attempts: number;
  /** Settings of the file that rayfleet set otherwise, with why. */
  notes: string[];
}

export interface ServeStatus {
  running: boolean;
  proxyLocation: string | null;
  /** The Serve proxy as this machine reaches it. */
  url: string;
  applications: ApplicationSummary[];
}

export interface FleetServeOptions {
  pollIntervalMs?: number | undefined;
  /** Read-merge-write rounds before a deploy that keeps meeting concurrent changes gives up. */
  maxAttempts?: number | undefined;
}

const DEFAULT_DEPLOY_TIMEOUT_MS = 600_000;
const DEFAULT_POLL_INTERVAL_MS = 500;
const DEFAULT_MAX_ATTEMPTS = 5;
/** How long Serve may take to let go of a deleted application. */
const DELETE_TIMEOUT_MS = 120_000;
/** A failed application's message is a traceback: its last lines say what failed. */
const MESSAGE_TAIL_LINES = 12;

export class FleetServe {
  private clients: { serve: ServeClient; jobs: JobsClient } | undefined;
  private readonly pollIntervalMs: number;
  private readonly maxAttempts: number;

  constructor(
    private readonly context: ServeContext,
    options: FleetServeOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  }

  /**
   * Deploys the config's applications and keeps every other running one. Ray's PUT replaces the whole set, so this
   * reads it, merges, writes, and reads again: if any application it wrote is not there as written, another deploy
   * changed the set meanwhile, and the round is done again on the new set (never silently lost).
   */
  async deploy(options: DeployOptions): Promise<DeployResult> {
    const { signal } = options;
    const chosen = chooseApplications(options.config, options.app);
    const { serve, jobs } = await this.client(signal);
    const uploaded: UploadedPackage[] = [];
    const upload = async (runtimeEnv: RuntimeEnv | undefined): Promise<RuntimeEnv | undefined> => {
      if (runtimeEnv === undefined) return undefined;
      const resolved = await uploadLocalPaths(runtimeEnv, { baseDir: options.baseDir, upload: ({ name, zip }) => jobs.uploadPackage(name, zip, signal) });
      uploaded.push(...resolved.uploaded);
      return resolved.runtimeEnv;
    };
    const ours: ServeApplicationConfig[] = [];
    for (const app of chosen) ours.push(await withUploadedPaths(app, upload));
    const { settings, notes } = await this.clusterSettings(options.config, signal);
    const names = new Set(ours.map((app) => app.name));

    let attempts = 0;
    for (;;) {
      attempts += 1;
      const current = await serve.details(signal);
      const kept = Object.values(current.applications)
        .filter((app) => !names.has(app.name) && app.status !== 'DELETING')
        .map((app) => keptConfig(app));
      const written = [...kept, ...ours];
      await serve.putAll({ ...settings, applications: written }, signal);
      const after = await serve.details(signal);
      if (written.every((app) => sameConfig(after.applications[app.name]?.deployed_app_config, app))) break;
      if (attempts >= this.maxAttempts) {
        throw new RayfleetError('SERVE_CONFLICT', `other deploys kept changing Serve's applications on ${this.context.cluster}; ${[...names].join(', ')} not deployed after ${attempts} tries`, {
          details: 'Run the deploy again once the other deploys are done.',
        });
      }
      // Apart in time from the other writer, so the two do not keep meeting.
      await delay(this.pollIntervalMs * (1 + Math.random()), undefined, { signal });
    }
    await this.context.record({ type: 'serve-deployed', apps: [...names], reason: `serve deploy${attempts > 1 ? ` (${attempts} rounds: another deploy changed the set meanwhile)` : ''}` });
    const applications = options.wait === false ? await this.summaries(names, signal) : await this.waitUntilRunning(ours, options.timeoutMs ?? DEFAULT_DEPLOY_TIMEOUT_MS, signal);
    return { applications, uploaded, attempts, notes };
  }

  /** Removes one application and keeps the others, by the same read-merge-write-check as deploy; waits until it is gone. */
  async delete(app: string, signal?: AbortSignal): Promise<void> {
    const { serve } = await this.client(signal);
    let attempts = 0;
    for (;;) {
      attempts += 1;
      const current = await serve.details(signal);
      const target = current.applications[app];
      if (target === undefined || target.status === 'DELETING') {
        if (attempts === 1 && target === undefined) throw notFound(app, current);
        break;
      }
      const { settings } = await this.clusterSettings({ applications: [] }, signal);
      const written = Object.values(current.applications)
        .filter((candidate) => candidate.name !== app && candidate.status !== 'DELETING')
        .map((candidate) => keptConfig(candidate));
      await serve.putAll({ ...settings, applications: written }, signal);
      const after = await serve.details(signal);
      const left = after.applications[app];
      if ((left === undefined || left.status === 'DELETING') && written.every((kept) => sameConfig(after.applications[kept.name]?.deployed_app_config, kept))) break;
      if (attempts >= this.maxAttempts) {
        throw new RayfleetError('SERVE_CONFLICT', `other deploys kept changing Serve's applications on ${this.context.cluster}; ${app} not deleted after ${attempts} tries`);
      }
      await delay(this.pollIntervalMs * (1 + Math.random()), undefined, { signal });
    }
    await pollUntil(async () => ((await serve.details(signal)).applications[app] === undefined ? true : undefined), {
      timeoutMs: DELETE_TIMEOUT_MS,
      intervalMs: this.pollIntervalMs,
      signal,
      describe: () => `Serve to remove ${app}`,
    });
    await this.context.record({ type: 'serve-deleted', apps: [app], reason: `serve delete ${app}` });
  }

  /** Every application, its deployments and replicas by state, and the URL each route is served at from this machine. */
  async status(signal?: AbortSignal): Promise<ServeStatus> {
    const { serve } = await this.client(signal);
    const details = await serve.details(signal);
    const url = await this.context.serveUrl(signal);
    return {
      running: Object.keys(details.proxies).length > 0 || Object.keys(details.applications).length > 0,
      proxyLocation: details.proxy_location ?? null,
      url,
      applications: Object.values(details.applications).map((app) => summarize(app, url)),
    };
  }

  /** Shuts Serve down with every application. */
  async shutdown(signal?: AbortSignal): Promise<string[]> {
    const { serve } = await this.client(signal);
    const apps = Object.keys((await serve.details(signal)).applications);
    await serve.shutdown(signal);
    await this.context.record({ type: 'serve-deleted', apps, reason: 'serve shutdown' });
    return apps;
  }

  /**
   * Where Serve's proxy binds, which is the cluster's business, not the file's: the head only, on the cluster's serve
   * port, at the host its backend says (loopback where nodes share a host, every interface in a container or pod).
   */
  private async clusterSettings(config: ServeDeployConfig, signal: AbortSignal | undefined): Promise<{ settings: Omit<ServeDeployConfig, 'applications'>; notes: string[] }> {
    const { applications: _applications, proxy_location: proxyLocation, http_options: httpOptions, ...rest } = config;
    const port = await this.context.servePort(signal);
    const host = this.context.serveHost;
    const notes: string[] = [];
    if (httpOptions?.port !== undefined && httpOptions.port !== port) notes.push(`http_options.port ${String(httpOptions.port)} is the cluster's serve port ${port} instead (set head.servePort in the spec)`);
    if (proxyLocation !== undefined && proxyLocation !== 'HeadOnly') notes.push(`proxy_location ${proxyLocation} is HeadOnly instead: the cluster's serve port is the head's`);
    return { settings: { ...rest, proxy_location: 'HeadOnly', http_options: { ...httpOptions, host, port } }, notes };
  }

  /** Waits until every application deployed is RUNNING; DEPLOY_FAILED (or one lost to another deploy) ends the wait at once. */
  private async waitUntilRunning(ours: ServeApplicationConfig[], timeoutMs: number, signal: AbortSignal | undefined): Promise<ApplicationSummary[]> {
    const { serve } = await this.client(signal);
    const url = await this.context.serveUrl(signal);
    const names = ours.map((app) => app.name);
    return pollUntil(
      async () => {
        const details = await serve.details(signal);
        for (const app of ours) {
          const current = details.applications[app.name];
          if (current === undefined || !sameConfig(current.deployed_app_config, app)) {
            throw new RayfleetError('SERVE_CONFLICT', `${app.name} was replaced or removed by another deploy while it was starting`);
          }
          if (current.status === 'DEPLOY_FAILED') {
            throw new RayfleetError('DEPLOY_FAILED', `${app.name} failed to deploy: ${lastLine(current.message)}`, { details: tailOf(current.message) });
          }
        }
        const apps = names.map((name) => details.applications[name]).filter((app) => app !== undefined);
        return apps.every((app) => app.status === 'RUNNING') ? apps.map((app) => summarize(app, url)) : undefined;
      },
      {
        timeoutMs,
        intervalMs: this.pollIntervalMs,
        signal,
        describe: () => `${names.join(', ')} to be RUNNING`,
        isFatal: (error) => isRayfleetError(error, 'DEPLOY_FAILED') || isRayfleetError(error, 'SERVE_CONFLICT'),
      },
    );
  }

  private async summaries(names: Set<string>, signal: AbortSignal | undefined): Promise<ApplicationSummary[]> {
    const { serve } = await this.client(signal);
    const url = await this.context.serveUrl(signal);
    return Object.values((await serve.details(signal)).applications)
      .filter((app) => names.has(app.name))
      .map((app) => summarize(app, url));
  }

  private async client(signal: AbortSignal | undefined): Promise<{ serve: ServeClient; jobs: JobsClient }> {
    if (this.clients === undefined) {
      const dashboard = await this.context.dashboard(signal);
      this.clients = { serve: new ServeClient(dashboard), jobs: new JobsClient(dashboard) };
    }
    return this.clients;
  }
}

/** The applications of the file to deploy: all, or the one --app names; each named once and with an import path. */
function chooseApplications(config: ServeDeployConfig, only: string | undefined): ServeApplicationConfig[] {
  const apps: unknown = config.applications;
  if (!Array.isArray(apps) || apps.length === 0) throw new RayfleetError('SERVE_CONFIG_INVALID', 'the Serve config has no applications: it needs `applications: [{ name, import_path, … }]`');
  const seen = new Set<string>();
  for (const [index, app] of apps.entries()) {
    const candidate = app as Partial<ServeApplicationConfig> | null;
    if (typeof candidate?.name !== 'string' || candidate.name === '') throw new RayfleetError('SERVE_CONFIG_INVALID', `applications[${index}] has no name: per-application deploys need one for each`);
    if (typeof candidate.import_path !== 'string') throw new RayfleetError('SERVE_CONFIG_INVALID', `application ${candidate.name} has no import_path (module:attribute)`);
    if (seen.has(candidate.name)) throw new RayfleetError('SERVE_CONFIG_INVALID', `application ${candidate.name} is named twice in the config`);
    seen.add(candidate.name);
  }
  const all = apps as ServeApplicationConfig[];
  if (only === undefined) return all;
  const one = all.find((app) => app.name === only);
  if (one === undefined) throw new RayfleetError('USAGE', `the config has no application ${only}; it has ${all.map((app) => app.name).join(', ')}`);
  return [one];
}

/** An application with its local working_dir and py_modules, and its deployments', replaced by uploaded packages. */
async function withUploadedPaths(app: ServeApplicationConfig, upload: (runtimeEnv: RuntimeEnv | undefined) => Promise<RuntimeEnv | undefined>): Promise<ServeApplicationConfig> {
  const resolved: ServeApplicationConfig = { ...app };
  const runtimeEnv = await upload(app.runtime_env);
  if (runtimeEnv !== undefined) resolved.runtime_env = runtimeEnv;
  if (Array.isArray(app.deployments)) {
    const deployments: Array<Record<string, unknown>> = [];
    for (const deployment of app.deployments) {
      const actorOptions = deployment.ray_actor_options as { runtime_env?: RuntimeEnv } | undefined;
      const deploymentEnv = await upload(actorOptions?.runtime_env);
      deployments.push(deploymentEnv === undefined ? deployment : { ...deployment, ray_actor_options: { ...actorOptions, runtime_env: deploymentEnv } });
    }
    resolved.deployments = deployments;
  }
  return resolved;
}

/** A running application as the next PUT must list it to keep it; one deployed from Python has no config to keep. */
function keptConfig(app: ApplicationDetails): ServeApplicationConfig {
  if (app.deployed_app_config === null) {
    throw new RayfleetError('SERVE_CONFLICT', `application ${app.name} was deployed from Python (serve.run), not from a config, so a config deploy would remove it`, {
      details: 'Ray cannot mix the two: deploy it from a config as well, or remove it with `rayfleet serve delete` first.',
    });
  }
  return app.deployed_app_config;
}

/**
 * Whether Ray has an application as it was written. Ray hands the config back as given, but through its schema:
 * numbers may come back as floats, a number given as text as a number; neither is another deploy's doing.
 */
export function sameConfig(deployed: unknown, written: unknown): boolean {
  if (deployed === written) return true;
  if ((deployed === null || deployed === undefined) && (written === null || written === undefined)) return true;
  if (Array.isArray(written)) return Array.isArray(deployed) && deployed.length === written.length && written.every((item, index) => sameConfig(deployed[index], item));
  if (typeof written === 'object' && written !== null) {
    if (typeof deployed !== 'object' || deployed === null || Array.isArray(deployed)) return false;
    const keys = new Set([...Object.keys(written), ...Object.keys(deployed)]);
    return [...keys].every((key) => sameConfig((deployed as Record<string, unknown>)[key], (written as Record<string, unknown>)[key]));
  }
  if (typeof deployed === 'object' || typeof written === 'object') return false;
  return String(deployed) === String(written) || Number(deployed) === Number(written);
}

function summarize(app: ApplicationDetails, serveUrl: string): ApplicationSummary {
  return {
    name: app.name,
    status: app.status,
    message: app.message,
    routePrefix: app.route_prefix,
    url: app.route_prefix === null ? null : `${serveUrl}${app.route_prefix === '/' ? '/' : app.route_prefix}`,
    deployments: Object.values(app.deployments).map((deployment) => {
      const replicas: Record<string, number> = {};
      for (const replica of deployment.replicas) replicas[replica.state] = (replicas[replica.state] ?? 0) + 1;
      return { name: deployment.name, status: deployment.status, replicas };
    }),
  };
}

function notFound(app: string, details: ServeInstanceDetails): RayfleetError {
  const names = Object.keys(details.applications);
  return new RayfleetError('SERVE_APP_NOT_FOUND', `no Serve application ${app} on this cluster`, {
    details: names.length > 0 ? `The applications are: ${names.join(', ')}.` : 'Serve runs no application here.',
  });
}

function lastLine(message: string): string {
  return message.trim().split('\n').at(-1)?.trim() ?? '';
}

function tailOf(message: string): string {
  return message.trim().split('\n').slice(-MESSAGE_TAIL_LINES).join('\n');
}
