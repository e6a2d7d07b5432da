import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isRayfleetError } from '../errors.js';
import { findFreePort } from '../net/ports.js';
import { DashboardClient } from './dashboard-client.js';

/** A stand-in dashboard that checks the token the way Ray's does: 401 without one, 403 for a wrong one. */
const TOKEN = 'dash-token';
const VERSION = { version: '4', ray_version: '2.60.0', ray_commit: 'abc', session_name: 'session_x' };

let server: Server;
let baseUrl: string;
let seen: Array<{ url: string; authorization: string | undefined }> = [];
/** Answers to give before the real ones: a dashboard still starting, or failing. */
let nextAnswers: Array<{ status: number; body: string }> = [];

function serve(request: IncomingMessage, response: ServerResponse): void {
  seen.push({ url: request.url ?? '', authorization: request.headers.authorization });
  const next = nextAnswers.shift();
  if (next !== undefined) {
    response.writeHead(next.status).end(next.body);
    return;
  }
  if (request.headers.authorization === undefined) {
    response.writeHead(401, { 'content-type': 'text/plain' }).end('Unauthorized: Missing authentication token');
    return;
  }
  if (request.headers.authorization !== `Bearer ${TOKEN}`) {
    response.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden: Invalid authentication token');
    return;
  }
  const json = (status: number, body: unknown): void => void response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (request.url === '/api/version') json(200, VERSION);
  else if (request.url === '/api/cluster_status') json(200, { result: true, msg: 'Got cluster status.', data: { clusterStatus: null } });
  else if (request.url === '/nodes?view=summary') json(200, { result: false, msg: 'Failed to get nodes: GCS down' });
  else json(404, { result: false, msg: 'no such route' });
}

beforeAll(async () => {
  server = createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
  nextAnswers = [];
});

describe('DashboardClient', () => {
  it('sends the bearer token and returns the JSON', async () => {
    const client = new DashboardClient({ baseUrl, authToken: TOKEN });
    expect(await client.version()).toEqual(VERSION);
    expect(await client.clusterStatus()).toMatchObject({ result: true, data: { clusterStatus: null } });
    expect(seen).toEqual([
      { url: '/api/version', authorization: `Bearer ${TOKEN}` },
      { url: '/api/cluster_status', authorization: `Bearer ${TOKEN}` },
    ]);
  });

  it('says whether the token is missing or wrong, without showing it', async () => {
    await expect(new DashboardClient({ baseUrl }).version()).rejects.toSatisfy(
      (error: unknown) => isRayfleetError(error, 'RAY_REQUEST_FAILED') && /401 .*auth token is missing \(Unauthorized: Missing authentication token\)/.test(error.message),
    );
    const wrong = await new DashboardClient({ baseUrl, authToken: 'guess' }).version().catch((error: unknown) => error as Error);
    expect(isRayfleetError(wrong, 'RAY_REQUEST_FAILED') && wrong.message).toMatch(/403 .*auth token is wrong/);
    expect((wrong as Error).message).not.toContain('guess');
  });

  it("fails with Ray's message on an error status or a failed envelope", async () => {
    const client = new DashboardClient({ baseUrl, authToken: TOKEN });
    await expect(client.nodes()).rejects.toSatisfy((error: unknown) => isRayfleetError(error, 'RAY_REQUEST_FAILED') && error.message.includes('Failed to get nodes: GCS down'));
    nextAnswers = [{ status: 500, body: JSON.stringify({ result: false, msg: 'internal error: boom' }) }];
    await expect(client.clusterStatus()).rejects.toThrow(/answered 500 to GET \/api\/cluster_status \(internal error: boom\)/);
    nextAnswers = [{ status: 200, body: '<html>' }];
    await expect(client.version()).rejects.toThrow(/sent no JSON for GET \/api\/version: <html>/);
  });

  it('is RAY_UNREACHABLE when nothing listens', async () => {
    const nowhere = new DashboardClient({ baseUrl: `http://127.0.0.1:${await findFreePort()}`, authToken: TOKEN });
    await expect(nowhere.version()).rejects.toSatisfy((error: unknown) => isRayfleetError(error, 'RAY_UNREACHABLE') && /ECONNREFUSED/.test(error.message));
  });

  it('rejects with the abort reason when the caller aborts', async () => {
    const client = new DashboardClient({ baseUrl, authToken: TOKEN });
    await expect(client.version(AbortSignal.abort(new Error('stop now')))).rejects.toThrow('stop now');
  });

  it('waits through a starting dashboard until it answers', async () => {
    nextAnswers = [{ status: 503, body: 'starting' }, { status: 503, body: 'starting' }];
    expect(await new DashboardClient({ baseUrl, authToken: TOKEN }).waitUntilUp(10_000)).toEqual(VERSION);
    expect(seen).toHaveLength(3);
  });

  it('stops waiting at once when the dashboard refuses the token', async () => {
    const started = Date.now();
    await expect(new DashboardClient({ baseUrl, authToken: 'guess' }).waitUntilUp(10_000)).rejects.toThrow(/auth token is wrong/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('times out with WAIT_TIMEOUT when the dashboard never comes up', async () => {
    const nowhere = new DashboardClient({ baseUrl: `http://127.0.0.1:${await findFreePort()}` });
    await expect(nowhere.waitUntilUp(700)).rejects.toSatisfy((error: unknown) => isRayfleetError(error, 'WAIT_TIMEOUT') && isRayfleetError(error.cause, 'RAY_UNREACHABLE'));
  });
});

describe('through a proxy that takes Authorization for itself (a front door behind an ingress)', () => {
  let door: Server;
  let address: string;
  const received: Array<Record<string, string | string[] | undefined>> = [];

  beforeAll(async () => {
    door = createServer((request, response) => {
      received.push(request.headers);
      request.resume();
      response.writeHead(200, { 'content-type': 'application/json', 'x-door': '1' }).end(JSON.stringify(VERSION));
    });
    await new Promise<void>((resolve) => door.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(door.address() as AddressInfo).port}`;
  });

  afterAll(() => {
    door.close();
  });

  const client = (checkAnswer?: (answer: { headers: Record<string, string | string[] | undefined> }) => void) =>
    new DashboardClient({
      baseUrl: 'http://head-app.workspace.invalid/ray',
      authToken: TOKEN,
      authHeader: 'x-ray-authorization',
      headers: { authorization: 'Bearer the-ingress-key' },
      connectTo: address,
      maxBodyBytes: 1024,
      checkAnswer,
    });

  it('sends the token in its own header beside the proxy\'s, to the address given, naming the URL\'s host', async () => {
    expect((await client().version()).ray_version).toBe('2.60.0');
    expect(received.at(-1)).toMatchObject({ host: 'head-app.workspace.invalid', authorization: 'Bearer the-ingress-key', 'x-ray-authorization': `Bearer ${TOKEN}` });
  });

  it('refuses a body over the way\'s limit before sending anything', async () => {
    const before = received.length;
    const error = await client().send('/api/packages/gcs/_ray_pkg_x.zip', { method: 'PUT', bytes: new Uint8Array(1025) }).catch((caught: unknown) => caught);
    expect(isRayfleetError(error, 'JOB_PACKAGE_TOO_LARGE')).toBe(true);
    expect(received.length).toBe(before);
  });

  it('lets the caller refuse an answer that did not come from the dashboard\'s side', async () => {
    const refused = client((answer) => {
      if (answer.headers['x-door'] !== 'yes') throw new Error('the ingress answered');
    });
    await expect(refused.version()).rejects.toThrow('the ingress answered');
  });
});
