// A client of Ray Serve's REST API on the dashboard (`/api/serve/applications/`): the whole set of applications read, replaced, shut down.
import { RayfleetError } from '../errors.js';
import type { DashboardClient } from './dashboard-client.js';

export const applicationStatuses = ['NOT_STARTED', 'DEPLOYING', 'DEPLOY_FAILED', 'RUNNING', 'UNHEALTHY', 'DELETING'] as const;
export type ApplicationStatus = (typeof applicationStatuses)[number];

/** One application of a Serve config, Ray's `ServeApplicationSchema`; rayfleet reads the fields it needs and passes the rest on. */
export interface ServeApplicationConfig {
  name: string;
  import_path: string;
  route_prefix?: string | null;
  runtime_env?: Record<string, unknown>;
  deployments?: Array<Record<string, unknown>>;
  [field: string]: unknown;
}

/** A whole Serve config, Ray's `ServeDeploySchema`: cluster-wide options and every application. */
export interface ServeDeployConfig {
  proxy_location?: string;
  http_options?: Record<string, unknown>;
  applications: ServeApplicationConfig[];
  [field: string]: unknown;
}

export interface ReplicaDetails {
  replica_id: string;
  state: string;
  node_id: string | null;
  actor_name?: string;
}

export interface DeploymentDetails {
  name: string;
  status: string;
  message: string;
  target_num_replicas?: number;
  replicas: ReplicaDetails[];
}

export interface ApplicationDetails {
  name: string;
  route_prefix: string | null;
  status: ApplicationStatus;
  message: string;
  last_deployed_time_s: number;
  /** The application's config as it was deployed; null for one deployed from Python (`serve.run`). */
  deployed_app_config: ServeApplicationConfig | null;
  source?: string;
  deployments: Record<string, DeploymentDetails>;
}

/** `GET /api/serve/applications/`, Ray's `ServeInstanceDetails`; empty fields while Serve is not running. */
export interface ServeInstanceDetails {
  proxy_location?: string | null;
  http_options?: Record<string, unknown> | null;
  proxies: Record<string, { status: string; node_id?: string }>;
  applications: Record<string, ApplicationDetails>;
  target_capacity: number | null;
}

/** The first PUT starts Serve's controller and proxy, which takes seconds on a busy machine. */
const PUT_TIMEOUT_MS = 120_000;
/** The dashboard's first Serve request connects it to Ray and looks for the controller: seconds on a busy machine (5 s was seen passed). */
const DETAILS_TIMEOUT_MS = 60_000;
const SHUTDOWN_TIMEOUT_MS = 120_000;

export class ServeClient {
  constructor(private readonly dashboard: DashboardClient) {}

  async details(signal?: AbortSignal): Promise<ServeInstanceDetails> {
    return this.dashboard.requestJson('/api/serve/applications/', { signal, timeoutMs: DETAILS_TIMEOUT_MS });
  }

  /** Replaces the whole set of applications: Ray removes every application the config does not list. */
  async putAll(config: ServeDeployConfig, signal?: AbortSignal): Promise<void> {
    const path = '/api/serve/applications/';
    const answer = await this.dashboard.send(path, { method: 'PUT', json: config, signal, timeoutMs: PUT_TIMEOUT_MS });
    if (answer.status === 400) {
      throw new RayfleetError('SERVE_CONFIG_INVALID', `Ray refused the Serve config: ${refusalOf(answer.text)}`);
    }
    if (answer.status < 200 || answer.status >= 300) throw this.dashboard.httpError('PUT', path, answer);
  }

  /** Shuts Serve down with every application. */
  async shutdown(signal?: AbortSignal): Promise<void> {
    const path = '/api/serve/applications/';
    const answer = await this.dashboard.send(path, { method: 'DELETE', signal, timeoutMs: SHUTDOWN_TIMEOUT_MS });
    if (answer.status < 200 || answer.status >= 300) throw this.dashboard.httpError('DELETE', path, answer);
  }
}

/**
 * What a 400 from Serve says, on one line: every line of a pydantic validation error (field, then problem), or the last
 * line of an exception from the controller (its type and message).
 */
export function refusalOf(text: string): string {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('For further information'));
  const said = /validation error/.test(text) ? lines.join('; ') : (lines.at(-1) ?? 'no message');
  return said.length > MAX_REFUSAL_CHARS ? `${said.slice(0, MAX_REFUSAL_CHARS)}…` : said;
}

const MAX_REFUSAL_CHARS = 600;
