// One HTTP request with node:http, not fetch: fetch always sends `Sec-Fetch-Mode`, and Ray's dashboard refuses a POST,
// PUT or DELETE that carries it ("method not allowed for browser traffic", dashboard/optional_utils.py is_browser_request).
import http from 'node:http';
import https from 'node:https';

export interface HttpRequest {
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array | undefined;
  signal?: AbortSignal | undefined;
}

export interface HttpAnswer {
  status: number;
  text: string;
}

/** Sends the request and reads the whole answer; a network failure rejects with node's error, an abort with the signal's reason. */
export async function httpRequest(url: string, request: HttpRequest): Promise<HttpAnswer> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const headers: Record<string, string | number> = { ...request.headers };
  if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
  return new Promise<HttpAnswer>((resolve, reject) => {
    const outgoing = transport.request(target, { method: request.method, headers, signal: request.signal }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.once('error', reject);
      incoming.once('end', () => resolve({ status: incoming.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    outgoing.once('error', (error) => reject(request.signal?.aborted === true ? request.signal.reason : error));
    outgoing.end(request.body);
  });
}
