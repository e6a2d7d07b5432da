// One HTTP request with node:http, not fetch: fetch always sends `Sec-Fetch-Mode`, and Ray's dashboard refuses a POST,
// PUT or DELETE that carries it ("method not allowed for browser traffic", dashboard/optional_utils.py is_browser_request).
import http from 'node:http';
import https from 'node:https';

export interface HttpRequest {
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array | undefined;
  signal?: AbortSignal | undefined;
  /** host:port to connect to instead of the URL's host, which still names the site (Host, TLS's server name): a name that does not resolve here. */
  connectTo?: string | undefined;
}

export interface HttpAnswer {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Sends the request and reads the whole answer; a network failure rejects with node's error, an abort with the signal's reason. */
export async function httpRequest(url: string, request: HttpRequest): Promise<HttpAnswer> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const headers: Record<string, string | number> = { ...request.headers };
  if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
  if (request.connectTo !== undefined) headers.host = target.host;
  const connection = request.connectTo === undefined ? {} : connectionTo(request.connectTo, target);
  return new Promise<HttpAnswer>((resolve, reject) => {
    const outgoing = transport.request(target, { method: request.method, headers, signal: request.signal, ...connection }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.once('error', reject);
      incoming.once('end', () => resolve({ status: incoming.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: incoming.headers }));
    });
    outgoing.once('error', (error) => reject(request.signal?.aborted === true ? request.signal.reason : error));
    outgoing.end(request.body);
  });
}

/** The socket goes to `hostPort`; the request still names the URL's host. */
function connectionTo(hostPort: string, target: URL): { hostname: string; port: number; servername: string; setHost: false } {
  const separator = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, separator).replace(/^\[|\]$/g, '');
  const port = Number(hostPort.slice(separator + 1));
  if (separator <= 0 || !Number.isInteger(port) || port <= 0) throw new Error(`${hostPort} is not host:port`);
  // `hostname`, not `host`: the URL's own hostname would win over a `host`.
  return { hostname: host, port, servername: target.hostname, setHost: false };
}
