import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RayfleetError } from '../../errors.js';
import { rayfleetErrorOf, thrownBy } from '../../../test/support/caught.js';
import { DockerEngine, MAX_API_VERSION, negotiateApiVersion, parseDockerHost, splitImageReference } from './docker-engine.js';

describe('parseDockerHost', () => {
  it('reads DOCKER_HOST as the docker CLI does, defaulting to the standard socket', () => {
    expect(parseDockerHost(undefined)).toEqual({ kind: 'unix', socketPath: '/var/run/docker.sock' });
    expect(parseDockerHost('unix:///run/user/1000/docker.sock')).toEqual({ kind: 'unix', socketPath: '/run/user/1000/docker.sock' });
    expect(parseDockerHost('tcp://10.0.0.5:2376')).toEqual({ kind: 'tcp', host: '10.0.0.5', port: 2376 });
    expect(parseDockerHost('tcp://docker')).toEqual({ kind: 'tcp', host: 'docker', port: 2375 });
    expect(thrownBy(() => parseDockerHost('ssh://me@box'))).toMatchObject({ code: 'USAGE' });
  });
});

describe('negotiateApiVersion', () => {
  it("takes the engine's version, capped at the client's, and refuses engines older than it needs", () => {
    expect(negotiateApiVersion('1.41')).toBe('1.41');
    expect(negotiateApiVersion('1.47')).toBe(MAX_API_VERSION);
    expect(thrownBy(() => negotiateApiVersion('1.39'))).toMatchObject({ code: 'DOCKER_FAILED' });
  });
});

describe('splitImageReference', () => {
  it('splits tag and digest, and keeps a registry port in the repository', () => {
    expect(splitImageReference('rayproject/ray:2.60.0')).toEqual({ fromImage: 'rayproject/ray', tag: '2.60.0' });
    expect(splitImageReference('registry:5000/ray')).toEqual({ fromImage: 'registry:5000/ray', tag: 'latest' });
    expect(splitImageReference('ray@sha256:abc')).toEqual({ fromImage: 'ray', tag: 'sha256:abc' });
  });
});

describe('DockerEngine', () => {
  let directory: string | undefined;
  let server: http.Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  it('says how to start an engine it cannot reach, with the unreachable code', async () => {
    const engine = new DockerEngine({ kind: 'unix', socketPath: '/nonexistent/docker.sock' });
    const error = await rayfleetErrorOf(() => engine.listContainers(['rayfleet.cluster=x']));
    expect(error).toBeInstanceOf(RayfleetError);
    expect(error.code).toBe('DOCKER_UNREACHABLE');
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain('unix:///nonexistent/docker.sock');
    expect(error.details).toContain('DOCKER_HOST');
  });

  it('asks the engine its version once and prefixes every call with it', async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'rf-engine-'));
    const socketPath = path.join(directory, 'docker.sock');
    const seen: string[] = [];
    server = http.createServer((request, response) => {
      seen.push(`${request.method} ${request.url}`);
      if (request.url === '/_ping') {
        response.writeHead(200, { 'api-version': '1.41' }).end('OK');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('[]');
    });
    await new Promise<void>((resolve) => server?.listen(socketPath, resolve));
    const engine = new DockerEngine({ kind: 'unix', socketPath });
    expect(await engine.listContainers(['rayfleet.cluster=a'])).toEqual([]);
    expect(await engine.listContainers(['rayfleet.cluster=b'])).toEqual([]);
    expect(seen[0]).toBe('GET /_ping');
    expect(seen.slice(1).map((line) => line.split('?')[0])).toEqual(['GET /v1.41/containers/json', 'GET /v1.41/containers/json']);
    expect(decodeURIComponent(seen[1] ?? '')).toContain('filters={"label":["rayfleet.cluster=a"]}');
  });

  /** A stand-in engine on a unix socket; `route` answers everything but /_ping. */
  async function standInEngine(route: http.RequestListener): Promise<string> {
    directory = await mkdtemp(path.join(os.tmpdir(), 'rf-engine-'));
    const socketPath = path.join(directory, 'docker.sock');
    server = http.createServer((request, response) => {
      if (request.url === '/_ping') response.writeHead(200, { 'api-version': '1.41' }).end('OK');
      else route(request, response);
    });
    await new Promise<void>((resolve) => server?.listen(socketPath, resolve));
    return socketPath;
  }

  it("creates a network on a given subnet, and tells a name taken from a subnet another network holds", async () => {
    const bodies: unknown[] = [];
    const socketPath = await standInEngine((request, response) => {
      let text = '';
      request.on('data', (chunk) => (text += String(chunk)));
      request.on('end', () => {
        const body = JSON.parse(text) as { Name: string };
        bodies.push(body);
        const answers: Record<string, [number, string]> = {
          fresh: [201, '{"Id":"n1"}'],
          named: [409, '{"message":"network with name named already exists"}'],
          pooled: [403, '{"message":"Pool overlaps with other one on this address space"}'],
          refused: [403, '{"message":"operation not permitted"}'],
        };
        const [status, answer] = answers[body.Name] ?? [500, '{}'];
        response.writeHead(status, { 'content-type': 'application/json' }).end(answer);
      });
    });
    const engine = new DockerEngine({ kind: 'unix', socketPath });
    const ipam = { Subnet: '172.18.0.0/16', Gateway: '172.18.0.1', IPRange: '172.18.128.0/17' };
    expect(await engine.createNetwork('fresh', { a: 'b' }, ipam)).toBe('created');
    expect(bodies[0]).toEqual({ Name: 'fresh', Driver: 'bridge', CheckDuplicate: true, Labels: { a: 'b' }, IPAM: { Driver: 'default', Config: [ipam] } });
    expect(await engine.createNetwork('named', {}, undefined)).toBe('name-taken');
    expect(bodies[1]).not.toHaveProperty('IPAM');
    expect(await engine.createNetwork('pooled', {}, ipam)).toBe('pool-taken');
    expect((await rayfleetErrorOf(() => engine.createNetwork('refused', {}, ipam))).code).toBe('DOCKER_FAILED');
  });

  it('follows a log that stays quiet longer than the request timeout, to the end of the container', async () => {
    const quietMs = 600;
    let release: (() => void) | undefined;
    const socketPath = await standInEngine((request, response) => {
      expect(request.url).toContain('follow=true');
      response.writeHead(200, { 'content-type': 'application/vnd.docker.raw-stream' });
      response.write(logFrame('started\n'));
      // The container says nothing for a while, then one more line, then it ends (and the engine ends the stream).
      release = () => response.end(logFrame('still here\n'));
    });
    const engine = new DockerEngine({ kind: 'unix', socketPath }, { requestTimeoutMs: 100 });
    const lines: string[] = [];
    for await (const line of engine.containerLogs('node', { follow: true })) {
      lines.push(line);
      if (line === 'started') setTimeout(() => release?.(), quietMs);
    }
    expect(lines).toEqual(['started', 'still here']);
  });

  it('still times out an engine that does not answer at all, follow or not', async () => {
    const socketPath = await standInEngine(() => undefined);
    const engine = new DockerEngine({ kind: 'unix', socketPath }, { requestTimeoutMs: 100 });
    const error = await rayfleetErrorOf(async () => {
      for await (const _line of engine.containerLogs('node', { follow: true })) expect.unreachable();
    });
    expect(error.message).toContain('no answer within 0.1 s');
    expect((await rayfleetErrorOf(() => engine.listContainers([]))).message).toContain('no answer within 0.1 s');
  });

  it('ends a followed log when the caller aborts', async () => {
    const socketPath = await standInEngine((_request, response) => {
      response.writeHead(200).write(logFrame('one\n'));
    });
    const engine = new DockerEngine({ kind: 'unix', socketPath }, { requestTimeoutMs: 100 });
    const controller = new AbortController();
    const lines: string[] = [];
    for await (const line of engine.containerLogs('node', { follow: true, signal: controller.signal })) {
      lines.push(line);
      controller.abort();
    }
    expect(lines).toEqual(['one']);
  });
});

/** One stdout frame of the engine's multiplexed log stream. */
function logFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(1, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}
