// A thin typed client of the Docker Engine API: the dozen calls the docker backend makes, over the engine's socket.
import http from 'node:http';
import { RayfleetError, messageOf } from '../../errors.js';
import { demuxLogStream } from './log-stream.js';
import type { ContainerCreateBody, ContainerInspect, ContainerSummary, NetworkInspect, NetworkIpamConfig } from './docker-types.js';
import { readEnv } from '../../environment.js';

/** The API versions this client is written for: the oldest has every field it sends (DeviceRequests: 1.40). */
export const MIN_API_VERSION = '1.40';
export const MAX_API_VERSION = '1.43';
const DEFAULT_SOCKET = '/var/run/docker.sock';
/** How long the engine may stay silent before a request counts as lost; a followed log stream is exempt once it has begun. */
const REQUEST_TIMEOUT_MS = 60_000;

/** Where the engine listens, from DOCKER_HOST as the docker CLI reads it: unix:///path or tcp://host:port. */
export type EngineEndpoint = { kind: 'unix'; socketPath: string } | { kind: 'tcp'; host: string; port: number };

export function parseDockerHost(value: string | undefined): EngineEndpoint {
  if (value === undefined || value.trim() === '') return { kind: 'unix', socketPath: DEFAULT_SOCKET };
  if (value.startsWith('unix://')) return { kind: 'unix', socketPath: value.slice('unix://'.length) };
  const tcp = /^(?:tcp|http):\/\/([^:/]+)(?::(\d+))?\/?$/.exec(value);
  if (tcp?.[1] !== undefined) return { kind: 'tcp', host: tcp[1], port: Number(tcp[2] ?? 2375) };
  throw new RayfleetError('USAGE', `DOCKER_HOST=${value} is not supported`, {
    details: 'rayfleet speaks to unix:///path/to/docker.sock or tcp://host:port (without TLS).',
  });
}

function describeEndpoint(endpoint: EngineEndpoint): string {
  return endpoint.kind === 'unix' ? `unix://${endpoint.socketPath}` : `tcp://${endpoint.host}:${endpoint.port}`;
}

/** Compares dotted API versions: -1, 0 or 1. */
export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return Math.sign(aMajor - bMajor || aMinor - bMinor);
}

/** The version both sides speak: the engine's own, capped at ours; an engine older than ours is refused. */
export function negotiateApiVersion(engineVersion: string): string {
  if (compareApiVersions(engineVersion, MIN_API_VERSION) < 0) {
    throw new RayfleetError('DOCKER_FAILED', `the Docker Engine speaks API ${engineVersion}; rayfleet needs ${MIN_API_VERSION} or later (Docker 19.03+)`);
  }
  return compareApiVersions(engineVersion, MAX_API_VERSION) > 0 ? MAX_API_VERSION : engineVersion;
}

interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** Statuses the caller handles itself, returned instead of thrown. */
  allow?: number[];
  /**
   * The answer is a stream that may stay quiet as long as the container does (`logs --follow`): once its headers
   * have come, the silence timeout no longer applies, and only the container's end or the caller's signal ends it.
   */
  endless?: boolean;
}

export interface DockerEngineOptions {
  /** How long the engine may stay silent before a request fails; 60 s when absent. */
  requestTimeoutMs?: number;
}

interface Reply {
  status: number;
  body: unknown;
}

export class DockerEngine {
  readonly endpoint: EngineEndpoint;
  private readonly requestTimeoutMs: number;
  private version: Promise<string> | undefined;

  constructor(endpoint: EngineEndpoint = parseDockerHost(readEnv('DOCKER_HOST')), options: DockerEngineOptions = {}) {
    this.endpoint = endpoint;
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  }

  /** The negotiated API version, asked of the engine once (GET /_ping answers with its own in a header). */
  apiVersion(signal?: AbortSignal): Promise<string> {
    this.version ??= this.send('GET', '/_ping', { signal }).then(({ response }) => {
      response.resume();
      const header = response.headers['api-version'];
      return negotiateApiVersion(typeof header === 'string' ? header : MIN_API_VERSION);
    });
    this.version.catch(() => (this.version = undefined));
    return this.version;
  }

  async listContainers(labels: string[], signal?: AbortSignal): Promise<ContainerSummary[]> {
    const reply = await this.request('GET', '/containers/json', { query: { all: true, filters: JSON.stringify({ label: labels }) }, signal });
    return reply.body as ContainerSummary[];
  }

  /** The container's id, or `conflict` when the name is taken, or `no-image` when the image is not on the engine. */
  async createContainer(name: string, body: ContainerCreateBody, signal?: AbortSignal): Promise<{ id: string } | 'conflict' | 'no-image'> {
    const reply = await this.request('POST', '/containers/create', { query: { name }, body, signal, allow: [404, 409] });
    if (reply.status === 409) return 'conflict';
    if (reply.status === 404) return 'no-image';
    return { id: (reply.body as { Id: string }).Id };
  }

  async startContainer(id: string, signal?: AbortSignal): Promise<void> {
    await this.request('POST', `/containers/${encodeURIComponent(id)}/start`, { signal, allow: [304] });
  }

  async inspectContainer(id: string, signal?: AbortSignal): Promise<ContainerInspect | undefined> {
    const reply = await this.request('GET', `/containers/${encodeURIComponent(id)}/json`, { signal, allow: [404] });
    return reply.status === 404 ? undefined : (reply.body as ContainerInspect);
  }

  /** Stops the container: SIGTERM to its init, SIGKILL after `timeoutSeconds`. A container stopped or gone is fine. */
  async stopContainer(id: string, timeoutSeconds: number, signal?: AbortSignal): Promise<void> {
    await this.request('POST', `/containers/${encodeURIComponent(id)}/stop`, { query: { t: timeoutSeconds }, signal, allow: [304, 404] });
  }

  /** Removes the container and its anonymous volumes; gone already, or being removed, is fine. */
  async removeContainer(id: string, signal?: AbortSignal): Promise<void> {
    await this.request('DELETE', `/containers/${encodeURIComponent(id)}`, { query: { force: true, v: true }, signal, allow: [404, 409] });
  }

  async inspectNetwork(name: string, signal?: AbortSignal): Promise<NetworkInspect | undefined> {
    const reply = await this.request('GET', `/networks/${encodeURIComponent(name)}`, { signal, allow: [404] });
    return reply.status === 404 ? undefined : (reply.body as NetworkInspect);
  }

  /**
   * Creates a bridge network, on the given subnet or on one the engine chooses: `name-taken` when a network of that name
   * exists already, `pool-taken` when the subnet overlaps another network's.
   */
  async createNetwork(name: string, labels: Record<string, string>, ipam: NetworkIpamConfig | undefined, signal?: AbortSignal): Promise<'created' | 'name-taken' | 'pool-taken'> {
    const reply = await this.request('POST', '/networks/create', {
      body: { Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: labels, ...(ipam === undefined ? {} : { IPAM: { Driver: 'default', Config: [ipam] } }) },
      signal,
      allow: [403, 409],
    });
    if (reply.status === 409) return 'name-taken';
    if (reply.status === 403) {
      const message = (reply.body as { message?: string } | undefined)?.message ?? '';
      if (/overlap/i.test(message)) return 'pool-taken';
      throw engineError('POST', '/networks/create', reply.status, reply.body);
    }
    return 'created';
  }

  /** Removes a network; one still used by containers is left, and `false` says so. */
  async removeNetwork(name: string, signal?: AbortSignal): Promise<boolean> {
    const reply = await this.request('DELETE', `/networks/${encodeURIComponent(name)}`, { signal, allow: [403, 404, 409] });
    return reply.status < 300 || reply.status === 404;
  }

  async imageExists(image: string, signal?: AbortSignal): Promise<boolean> {
    const reply = await this.request('GET', `/images/${encodeURIComponent(image)}/json`, { signal, allow: [404] });
    return reply.status !== 404;
  }

  /** Pulls an image from its registry; the engine streams JSON progress lines, an `error` line means it failed. */
  async pullImage(image: string, signal?: AbortSignal): Promise<void> {
    const { fromImage, tag } = splitImageReference(image);
    const { response } = await this.send('POST', '/images/create', { query: { fromImage, tag }, signal }, true);
    let text = '';
    for await (const chunk of response) text += String(chunk);
    if (response.statusCode !== 200) throw engineError('POST', '/images/create', response.statusCode ?? 0, parseJson(text));
    for (const line of text.split('\n')) {
      const message = parseJson(line) as { error?: string } | undefined;
      if (message?.error !== undefined) throw new RayfleetError('DOCKER_FAILED', `pulling ${image} failed: ${message.error}`);
    }
  }

  /** The container's output (stdout and stderr, as `docker logs` shows it), line by line. */
  async *containerLogs(id: string, options: { follow?: boolean; tail?: number; signal?: AbortSignal } = {}): AsyncIterable<string> {
    const path = `/containers/${encodeURIComponent(id)}/logs`;
    const query = { stdout: true, stderr: true, follow: options.follow === true, tail: options.tail ?? 'all' };
    const { response } = await this.send('GET', path, { query, signal: options.signal, endless: options.follow === true }, true);
    if (response.statusCode !== 200) {
      let text = '';
      for await (const chunk of response) text += String(chunk);
      throw engineError('GET', path, response.statusCode ?? 0, parseJson(text));
    }
    try {
      yield* demuxLogStream(response);
    } catch (error) {
      if (options.signal?.aborted === true) return;
      throw error;
    }
  }

  private async request(method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
    const { response } = await this.send(method, path, options, true);
    let text = '';
    for await (const chunk of response) text += String(chunk);
    const status = response.statusCode ?? 0;
    const body = parseJson(text);
    if (status >= 300 && !(options.allow ?? []).includes(status)) throw engineError(method, path, status, body);
    return { status, body };
  }

  /** One HTTP exchange; `versioned` prefixes the negotiated API version. Connection failures say how to start an engine. */
  private async send(method: string, path: string, options: RequestOptions, versioned = false): Promise<{ response: http.IncomingMessage }> {
    const prefix = versioned ? `/v${await this.apiVersion(options.signal)}` : '';
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) search.set(key, String(value));
    const target = `${prefix}${path}${search.size > 0 ? `?${search}` : ''}`;
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const where = this.endpoint.kind === 'unix' ? { socketPath: this.endpoint.socketPath } : { host: this.endpoint.host, port: this.endpoint.port };
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          ...where,
          method,
          path: target,
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          signal: options.signal,
          timeout: this.requestTimeoutMs,
        },
        (response) => {
          // The timeout is the socket's: left on, it would end a followed log after a quiet minute of the container.
          if (options.endless === true) request.setTimeout(0);
          resolve({ response });
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.requestTimeoutMs / 1000} s`)));
      request.on('error', (error) => {
        if (options.signal?.aborted === true) {
          reject(new RayfleetError('INTERRUPTED', `${method} ${path} was interrupted`, { cause: error }));
          return;
        }
        reject(
          new RayfleetError('DOCKER_UNREACHABLE', `cannot reach the Docker Engine at ${describeEndpoint(this.endpoint)}: ${messageOf(error)}`, {
            cause: error,
            details:
              'Start the engine (`sudo systemctl start docker`; where there is no systemd, `sudo dockerd &`), ' +
              'or point DOCKER_HOST at a running one (unix:///path/to/docker.sock or tcp://host:2375).',
          }),
        );
      });
      request.end(payload);
    });
  }
}

/** `repo[:tag]` or `repo@digest` into the two query fields of POST /images/create. */
export function splitImageReference(image: string): { fromImage: string; tag: string } {
  const at = image.indexOf('@');
  if (at !== -1) return { fromImage: image.slice(0, at), tag: image.slice(at + 1) };
  const colon = image.lastIndexOf(':');
  // A colon before the last slash belongs to a registry's port, not to a tag.
  if (colon > image.lastIndexOf('/')) return { fromImage: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { fromImage: image, tag: 'latest' };
}

function engineError(method: string, path: string, status: number, body: unknown): RayfleetError {
  const message = (body as { message?: string } | undefined)?.message ?? `HTTP ${status}`;
  return new RayfleetError('DOCKER_FAILED', `Docker Engine: ${method} ${path} answered ${status}: ${message}`);
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.trim() };
  }
}
