// The management REST API under /api/v1: every route validates with the zod schemas the OpenAPI document is made from.
import { OpenAPIHono, createRoute, z, type RouteConfig } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { RayfleetError } from '../errors.js';
import {
  AddWorkersAnswer,
  AddWorkersBody,
  ClusterList,
  ClusterStatus,
  DemandView,
  ErrorBody,
  EventList,
  EventsQuery,
  GroupList,
  HistoryQuery,
  HistoryView,
  RemoveWorkerQuery,
  RemovedAnswer,
  WatcherPatch,
  WatcherView,
  clusterName,
  nodeName,
} from './api-schemas.js';
import { codesAnsweredWith, errorAnswer, type ErrorAnswer } from './api-errors.js';
import type { ClusterControl } from './cluster-control.js';
import { streamClusterEvents, type StreamOptions } from './event-stream.js';

export const API_BASE = '/api/v1';

type ErrorStatusCode = 400 | 401 | 404 | 409 | 503;

const errorMeaning: Record<ErrorStatusCode, string> = {
  400: 'the request is malformed; `issues` names each field',
  401: 'the dashboard token is missing or wrong',
  404: 'no such cluster, node or group',
  409: "the cluster refused: a busy node, a group at its max, a saved record that cannot be read",
  503: 'the backend (Ray, the Docker Engine, the CML API) failed or cannot be reached now; try again',
};

function errors(...statuses: ErrorStatusCode[]): RouteConfig['responses'] {
  return Object.fromEntries(
    statuses.map((status) => [status, { description: `${errorMeaning[status]} (${codesAnsweredWith(status).join(', ')})`, content: { 'application/json': { schema: ErrorBody } } }]),
  );
}

function ok<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

const clusterParams = z.object({ name: clusterName });
const nodeParams = z.object({ name: clusterName, node: nodeName });
const readErrors = [401, 404, 409, 503] as const;

const routes = {
  listClusters: createRoute({
    method: 'get',
    path: `${API_BASE}/clusters`,
    summary: 'Every cluster that is up on this machine',
    responses: { 200: ok(ClusterList, 'provider, nodes alive and total, pending demand and watcher state of each'), ...errors(401) },
  }),
  getCluster: createRoute({
    method: 'get',
    path: `${API_BASE}/clusters/{name}`,
    summary: 'Each node as its provider sees it beside what Ray says (the same object as `status --json`)',
    request: { params: clusterParams },
    responses: { 200: ok(ClusterStatus, 'the cluster now'), ...errors(...readErrors) },
  }),
  getGroups: createRoute({
    method: 'get',
    path: `${API_BASE}/clusters/{name}/groups`,
    summary: "Each worker group's min, max, nodes by phase and back-off",
    request: { params: clusterParams },
    responses: { 200: ok(GroupList, 'the groups'), ...errors(...readErrors) },
  }),
  getDemand: createRoute({
    method: 'get',
    path: `${API_BASE}/clusters/{name}/demand`,
    summary: 'What Ray waits for now, as the watcher last saw it, and what held a scale-up back',
    request: { params: clusterParams },
    responses: { 200: ok(DemandView, 'the demand'), ...errors(...readErrors) },
  }),
  getHistory: createRoute({
    method: 'get',
    path: `${API_BASE}/clusters/{name}/history`,
    summary: 'Nodes per group and phase, and pending demand by shape, over time',
    request: { params: clusterParams, query: HistoryQuery },
    responses: { 200: ok(HistoryView, 'the window, in buckets'), ...errors(400, ...readErrors) },
  }),
  getEvents: createRoute({
    method: 'get',
    path: `${API_BASE}/clusters/{name}/events`,
    summary: 'The journal: every decision, launch, drain and failure with its reason and numbers',
    request: { params: clusterParams, query: EventsQuery },
    responses: { 200: ok(EventList, 'the events, oldest first'), ...errors(400, ...readErrors) },
  }),
  addWorkers: createRoute({
    method: 'post',
    path: `${API_BASE}/clusters/{name}/workers`,
    summary: 'Start workers in a group, all or none (409 GROUP_AT_MAX names the room left); answers with their names once the provider has the launches, without waiting for Ray (the stream tells when they join)',
    request: { params: clusterParams, body: { required: true, content: { 'application/json': { schema: AddWorkersBody } } } },
    responses: { 202: ok(AddWorkersAnswer, 'the workers being started'), ...errors(400, 401, 404, 409, 503) },
  }),
  removeWorker: createRoute({
    method: 'delete',
    path: `${API_BASE}/clusters/{name}/workers/{node}`,
    summary: 'Drain a worker in Ray, then stop it; a busy worker is refused (409) unless forced',
    request: { params: nodeParams, query: RemoveWorkerQuery },
    responses: { 200: ok(RemovedAnswer, 'the worker is stopped and gone from Ray'), ...errors(400, 401, 404, 409, 503) },
  }),
  getWatcher: createRoute({
    method: 'get',
    path: `${API_BASE}/clusters/{name}/watcher`,
    summary: "The watcher's state: running, paused, settings, groups, what it withheld",
    request: { params: clusterParams },
    responses: { 200: ok(WatcherView, 'the watcher'), ...errors(...readErrors) },
  }),
  patchWatcher: createRoute({
    method: 'patch',
    path: `${API_BASE}/clusters/{name}/watcher`,
    summary: "Live changes: pause or resume, groups' min and max, idle timeout, maxWorkers; saved in the cluster's spec and journaled",
    request: { params: clusterParams, body: { required: true, content: { 'application/json': { schema: WatcherPatch } } } },
    responses: { 200: ok(WatcherView, 'the watcher after the change'), ...errors(400, 401, 404, 409, 503) },
  }),
};

/** Each API path as a pattern, with the methods it takes: a known path asked with another method is a 405, not a 404. */
const pathMethods: Array<{ pattern: RegExp; methods: string[] }> = (() => {
  const byPath = new Map<string, string[]>();
  for (const route of [...Object.values(routes), { path: `${API_BASE}/clusters/{name}/stream`, method: 'get' }, { path: `${API_BASE}/openapi.json`, method: 'get' }]) {
    byPath.set(route.path, [...(byPath.get(route.path) ?? []), route.method.toUpperCase()]);
  }
  return [...byPath].map(([path, methods]) => ({ pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.')}$`), methods: methods.includes('GET') ? [...methods, 'HEAD'] : methods }));
})();

export function methodsOf(path: string): string[] {
  return pathMethods.find((entry) => entry.pattern.test(path))?.methods ?? [];
}

/** 405 with Allow for a known path asked with another method; 404 for a path the API does not have. */
export function answerUnknownRoute(context: Context): Response {
  const allowed = methodsOf(context.req.path);
  if (allowed.length > 0) {
    const body: ErrorAnswer = { code: 'USAGE', message: `${context.req.method} is not a method of ${context.req.path}`, details: `It takes ${allowed.join(', ')}.` };
    return context.json(body, 405, { allow: allowed.join(', ') });
  }
  const body: ErrorAnswer = { code: 'ROUTE_NOT_FOUND', message: `no route ${context.req.method} ${context.req.path}`, details: `The API is under ${API_BASE}; its document is ${API_BASE}/openapi.json.` };
  return context.json(body, 404);
}

/** A query or body that fails its schema is a 400 naming each field; a path that cannot name a cluster or node is a 404. */
function validationFailed(result: { success: boolean; target: string; error?: z.ZodError }, context: Context): Response | undefined {
  if (result.success || result.error === undefined) return undefined;
  if (result.target === 'param') {
    const node = result.error.issues.some((issue) => issue.path[0] === 'node');
    const body: ErrorAnswer = { code: node ? 'NODE_NOT_FOUND' : 'CLUSTER_NOT_FOUND', message: `no ${node ? 'node' : 'cluster'} can have that name`, details: result.error.issues.map((issue) => issue.message).join('; ') };
    return context.json(body, 404);
  }
  const where = result.target === 'json' ? 'body' : result.target;
  const issues = result.error.issues.map((issue) => ({ path: [where, ...issue.path.map(String)].join('.'), message: issue.message }));
  const body: ErrorAnswer = { code: 'USAGE', message: `invalid ${where}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, details: null, issues };
  return context.json(body, 400);
}

export interface ApiOptions {
  stream?: Omit<StreamOptions, 'lastEventId'>;
}

export function createApiApp(control: ClusterControl, options: ApiOptions = {}): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationFailed });

  app.openapi(routes.listClusters, async (context) => context.json({ clusters: await control.listClusters() }, 200));
  app.openapi(routes.getCluster, async (context) => context.json(await control.status(context.req.valid('param').name), 200));
  app.openapi(routes.getGroups, async (context) => context.json(await control.groups(context.req.valid('param').name), 200));
  app.openapi(routes.getDemand, async (context) => context.json(await control.demand(context.req.valid('param').name), 200));
  app.openapi(routes.getHistory, async (context) => {
    const query = context.req.valid('query');
    const since = query.since === undefined ? undefined : Date.parse(query.since);
    const until = query.until === undefined ? undefined : Date.parse(query.until);
    if (since !== undefined && until !== undefined && since > until) throw new RayfleetError('USAGE', 'query.since: is after until');
    const window = await control.history(context.req.valid('param').name, {
      ...(since === undefined ? {} : { sinceMs: since }),
      ...(until === undefined ? {} : { untilMs: until }),
      ...(query.step === undefined ? {} : { stepMs: query.step * 1000 }),
    });
    return context.json(window, 200);
  });
  app.openapi(routes.getEvents, async (context) => {
    const query = context.req.valid('query');
    const answer = await control.events(context.req.valid('param').name, {
      ...(query.since === undefined ? {} : { since: new Date(query.since) }),
      ...(query.type === undefined ? {} : { types: query.type.split(',') }),
      ...(query.limit === undefined ? {} : { limit: query.limit }),
    });
    return context.json(answer, 200);
  });
  app.openapi(routes.addWorkers, async (context) => {
    const body = context.req.valid('json');
    const launching = await control.addWorkers(context.req.valid('param').name, body.group, body.count, 'api');
    return context.json({ launching }, 202);
  });
  app.openapi(routes.removeWorker, async (context) => {
    const { name, node } = context.req.valid('param');
    await control.removeWorker(name, node, context.req.valid('query').force === 'true', 'api');
    return context.json({ removed: node }, 200);
  });
  app.openapi(routes.getWatcher, async (context) => context.json(await control.watcher(context.req.valid('param').name), 200));
  app.openapi(routes.patchWatcher, async (context) => {
    const answer = await control.setWatcherSettings(context.req.valid('param').name, context.req.valid('json'), 'api');
    return context.json(answer, 200);
  });

  // The stream is documented here and served by hand: its body is server-sent events, not one JSON value.
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: `${API_BASE}/clusters/{name}/stream`,
    summary: 'Server-sent events: every journal event (`event: journal`, its id the resume point) and every change of nodes and watcher (`event: snapshot`)',
    request: { params: clusterParams, headers: z.object({ 'last-event-id': z.string().optional().openapi({ description: 'resume after this journal event' }) }) },
    responses: { 200: { description: 'the stream', content: { 'text/event-stream': { schema: z.string() } } }, ...errors(...readErrors) },
  });
  app.get(`${API_BASE}/clusters/:name/stream`, async (context) => {
    const name = clusterName.safeParse(context.req.param('name'));
    if (!name.success) throw new RayfleetError('CLUSTER_NOT_FOUND', 'no cluster has that name');
    // Fails with 404 before the stream starts, for a cluster that is not up.
    await control.watcher(name.data);
    return streamClusterEvents(context, control, name.data, { ...options.stream, lastEventId: context.req.header('last-event-id') });
  });

  app.doc31(`${API_BASE}/openapi.json`, {
    openapi: '3.1.0',
    info: {
      title: 'rayfleet control plane',
      version: '1',
      description:
        'Reads on a loopback bind need no token; every change, and every request on any other bind, needs `Authorization: Bearer <token>` (`rayfleet dashboard --token`).',
    },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });

  app.notFound(answerUnknownRoute);
  app.onError((error, context) => {
    if (error instanceof HTTPException) {
      // Malformed JSON, a body of another media type: the client's mistake, said the way every other one is.
      const body: ErrorAnswer = { code: 'USAGE', message: `invalid body: ${error.message}`, details: null, issues: [{ path: 'body', message: error.message }] };
      return context.json(body, 400);
    }
    const { status, body } = errorAnswer(error);
    return context.json(body, status);
  });
  return app;
}
