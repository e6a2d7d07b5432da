// The dashboard server: the page, its assets, the REST API and the stream, behind one guard, on one port.
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { RayfleetError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { answerUnknownRoute, createApiApp, methodsOf } from './api-app.js';
import type { ClusterControl } from './cluster-control.js';
import { FleetClusterControl } from './fleet-cluster-control.js';
import { isAssetName, readAsset } from './page-assets.js';
import { clusterPage, overviewPage } from './page-shell.js';
import { requestGuard } from './request-guard.js';

export interface DashboardServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  token: string;
  control?: ClusterControl;
  logger?: Logger;
  /** How often each stream looks for a change of nodes and watcher. */
  snapshotIntervalMs?: number;
}

export interface DashboardServer {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

/** The whole app without a socket: `app.request()` runs it in tests. */
export function createDashboardApp(options: Omit<DashboardServerOptions, 'port'> & { port: () => number; control: ClusterControl; closed?: AbortSignal }): Hono {
  const app = new Hono();
  app.use('*', requestGuard({ host: options.host, port: options.port, token: options.token, routes: (method, path) => methodsOf(path).includes(method) }));
  app.get('/', (context) => context.html(overviewPage()));
  app.get('/clusters/:name', (context) => context.html(clusterPage()));
  app.get('/assets/:file', async (context) => {
    const file = context.req.param('file');
    const asset = isAssetName(file) ? await readAsset(file) : undefined;
    if (asset === undefined) return context.json({ code: 'ROUTE_NOT_FOUND', message: `no asset ${file}`, details: isAssetName(file) ? 'The page was not built: `npm run build`.' : null }, 404);
    return context.body(new Uint8Array(asset.body), 200, { 'content-type': asset.contentType, 'cache-control': 'no-cache' });
  });
  app.route('/', createApiApp(options.control, { stream: { snapshotIntervalMs: options.snapshotIntervalMs, closed: options.closed } }));
  app.notFound(answerUnknownRoute);
  return app;
}

export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const control = options.control ?? new FleetClusterControl({ logger: options.logger });
  const closed = new AbortController();
  let port = options.port;
  const app = createDashboardApp({ ...options, control, port: () => port, closed: closed.signal });
  const server = await new Promise<ServerType>((resolve, reject) => {
    const started = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, () => resolve(started));
    started.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new RayfleetError('PORT_IN_USE', `port ${options.port} on ${options.host} is already in use`, { cause: error, details: 'Pick another with --port, or 0 for a free one.' })
          : error,
      ),
    );
  });
  const address = server.address();
  port = typeof address === 'object' && address !== null ? address.port : options.port;
  const hostInUrl = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${hostInUrl}:${port}`,
    host: options.host,
    port,
    close: async () => {
      // Streams never end on their own: end them, or close() would wait for every open page.
      closed.abort();
      control.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
