// What every handler of the emulator shares: the store, the swagger, the faults, and how engines are run.
import { appendFileSync } from 'node:fs';
import type { Clock } from '../../src/time/clock.js';
import { ApiError, GrpcCode } from './api-error.js';
import type { Faults } from './faults.js';
import type { IngressSettings } from './ingress.js';
import { renderDefinition } from './render.js';
import type { Engine, Store, StoredProject } from './store.js';
import type { SwaggerDocument, SwaggerOperation } from './swagger.js';

export interface World {
  document: SwaggerDocument;
  store: Store;
  faults: Faults;
  /** The interpreter that runs scripts: `python3` from PATH unless told otherwise. */
  python: string;
  apiKey: string;
  /** http://127.0.0.1:port */
  url: string;
  /** 127.0.0.1:port, what CDSW_DOMAIN holds. */
  domain: string;
  projectsRoot: string;
  logsDirectory: string;
  stopGraceMs: number;
  /** What the API's timestamps (created_at, running_at …) read. */
  clock: Clock;
  /** Aborted by close(): ends every wait of the emulator's own. */
  closing: AbortSignal;
  /** The ingress's switches as they are now (the API reads what its administrator allows). */
  ingress: () => IngressSettings;
}

export interface HandlerContext {
  params: Record<string, string>;
  query: URLSearchParams;
  /** The JSON body, already checked against the swagger. */
  json: unknown;
  form: FormData | undefined;
  operation: SwaggerOperation;
}

/** Returns the answer's body; undefined for an empty one. */
export type Handler = (context: HandlerContext) => Promise<unknown>;

export function projectOf(world: World, projectId: string | undefined): StoredProject {
  const project = world.store.projects.get(projectId ?? '');
  if (project === undefined) throw new ApiError(GrpcCode.notFound, `project ${JSON.stringify(projectId)} not found`);
  return project;
}

export function render(world: World, definition: string, source: Record<string, unknown>): Record<string, unknown> {
  return renderDefinition(world.document, definition, source);
}

/** The body as an object of the request definition (the validator has checked its fields). */
export function bodyOf(context: HandlerContext): Record<string, unknown> {
  return typeof context.json === 'object' && context.json !== null ? (context.json as Record<string, unknown>) : {};
}

export function requireText(body: Record<string, unknown>, field: string, what: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.trim() === '') throw new ApiError(GrpcCode.invalidArgument, `${what} is required`);
  return value;
}

/** The request's environment map (checked to hold strings by the validator). */
export function environmentOf(body: Record<string, unknown>): Record<string, string> {
  return (body.environment as Record<string, string> | undefined) ?? {};
}

/** Runs engine steps one after the other, so a stop never overtakes the start it cancels. */
export function enqueue(engine: Engine, step: () => Promise<void>): Promise<void> {
  const done = engine.lifecycle.then(step);
  engine.lifecycle = done.catch(() => undefined);
  return done;
}

/** A line of the emulator's own in an engine's log, like CML's engine messages. */
export function logLine(engine: Engine, line: string): void {
  appendFileSync(engine.logPath, `[cml-emulator] ${line}\n`);
}
