// A client of Ray's dashboard HTTP API: version, cluster status and nodes, with the cluster's token.
import { RayfleetError, messageOf } from '../errors.js';
import { pollUntil } from '../wait/poll-until.js';

export interface DashboardClientOptions {
  /** e.g. http://127.0.0.1:8265 */
  baseUrl: string;
  authToken?: string | undefined;
  timeoutMs?: number | undefined;
}

export class DashboardClient {
  private readonly baseUrl: string;

  constructor(private readonly options: DashboardClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  async version(signal?: AbortSignal): Promise<{ ray_version: string; version: string }> {
    return this.get('/api/version', signal);
  }

  /** The autoscaler's status text and load, as `ray status` shows it (GET /api/cluster_status). */
  async clusterStatus(signal?: AbortSignal): Promise<unknown> {
    return this.get('/api/cluster_status', signal);
  }

  /** Every node with its resources (GET /nodes?view=summary). */
  async nodes(signal?: AbortSignal): Promise<unknown> {
    return this.get('/nodes?view=summary', signal);
  }

  async waitUntilUp(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await pollUntil(async () => (await this.version(signal)) && true, { timeoutMs, intervalMs: 300, signal, describe: () => `Ray's dashboard at ${this.baseUrl}` });
  }

  private async get<T>(path: string, signal: AbortSignal | undefined): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.authToken !== undefined) headers.authorization = `Bearer ${this.options.authToken}`;
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 5_000);
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) });
    } catch (error) {
      throw new RayfleetError('RAY_UNREACHABLE', `cannot reach Ray's dashboard at ${this.baseUrl}: ${messageOf(error)}`, { cause: error });
    }
    const text = await response.text();
    if (!response.ok) {
      const hint = response.status === 401 || response.status === 403 ? ' (the auth token is missing or wrong)' : '';
      throw new RayfleetError('RAY_REQUEST_FAILED', `Ray's dashboard answered ${response.status} to GET ${path}${hint}: ${text.slice(0, 300)}`);
    }
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new RayfleetError('RAY_REQUEST_FAILED', `Ray's dashboard sent no JSON for GET ${path}`, { cause: error });
    }
  }
}
