// One line of a cluster's journal: what happened, to which node, why, and the numbers behind it, typed per kind.
import { z } from 'zod';

/** The observation numbers behind a decision: pending requests, nodes per phase, the demand source … */
const numbers = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));
export type DecisionNumbers = z.infer<typeof numbers>;

/** Who changed a running cluster's spec. */
export const changeSources = ['cli', 'api'] as const;

/** Why the watcher held a scale-up back. */
export const withheldCauses = ['threshold', 'cooldown', 'max', 'backoff', 'infeasible', 'paused', 'head-away'] as const;

const base = {
  v: z.literal(1),
  time: z.string(),
  cluster: z.string(),
  /** Why, in words a person reads: "add-worker --count 2", "idle 65 s > idleTimeout 60 s". */
  reason: z.string(),
};

/** Each kind with its own fields; every formatter below is typed by them. */
const kinds = [
  z.object({ ...base, type: z.literal('cluster-up'), newWorkers: z.number() }),
  z.object({ ...base, type: z.literal('cluster-down'), nodes: z.number() }),
  z.object({ ...base, type: z.literal('spec-changed'), fields: z.array(z.string()), by: z.enum(changeSources) }),
  z.object({ ...base, type: z.literal('launch'), node: z.string(), group: z.string(), cpus: z.number(), gpus: z.number() }),
  z.object({
    ...base,
    type: z.literal('launch-failed'),
    node: z.string().optional(),
    group: z.string(),
    code: z.string().optional(),
    /** Failed launches of the group in a row, this one included. */
    failures: z.number().optional(),
    logTail: z.string().optional(),
  }),
  z.object({ ...base, type: z.literal('registered'), node: z.string(), group: z.string().optional(), waitedMs: z.number() }),
  z.object({ ...base, type: z.literal('drain'), node: z.string(), group: z.string(), idleMs: z.number().optional(), numbers: numbers.default({}) }),
  z.object({ ...base, type: z.literal('drain-rejected'), node: z.string(), group: z.string(), forced: z.boolean().default(false), numbers: numbers.default({}) }),
  z.object({ ...base, type: z.literal('terminate'), node: z.string() }),
  /** The head's Ray is gone (its GCS with it), as its provider proves; the tail of its log says how. */
  z.object({ ...base, type: z.literal('head-died'), node: z.string(), deaths: z.number(), logTail: z.string().optional() }),
  /** The head started again on its address and ports (head.faultTolerance), the GCS recovering from its store. */
  z.object({ ...base, type: z.literal('head-restarted'), node: z.string(), deaths: z.number().optional(), awayMs: z.number().optional() }),
  /** Processes carrying this cluster's id that no node record accounts for, stopped (the orphan sweep). */
  z.object({ ...base, type: z.literal('orphan-stopped'), node: z.string().optional(), providerId: z.string(), pids: z.array(z.number()) }),
  z.object({ ...base, type: z.literal('failure'), node: z.string().optional(), source: z.string().optional() }),
  z.object({ ...base, type: z.literal('scale-up'), group: z.string(), count: z.number().default(1), numbers: numbers.default({}) }),
  z.object({ ...base, type: z.literal('withheld'), group: z.string().optional(), cause: z.enum(withheldCauses), numbers: numbers.default({}) }),
  z.object({ ...base, type: z.literal('infeasible'), shapes: z.number() }),
  z.object({
    ...base,
    type: z.literal('watcher'),
    pid: z.number().optional(),
    /** What the watcher sees the cluster through again (`gcs`), or `launcher`: a restart by the CML head's launcher. */
    source: z.string().optional(),
    // The launcher's restarts (launchers/ray_launcher.py; providers/cai/launcher-journal.test.ts holds it to these fields):
    /** The exit code of the watcher that ended (negative: the signal that ended it). */
    exitCode: z.number().optional(),
    /** Restarts so far, this one included. */
    restarts: z.number().optional(),
    /** Seconds before this restart (doubling up to 300). */
    delayS: z.number().optional(),
  }),
  z.object({ ...base, type: z.literal('job-submitted'), jobId: z.string(), entrypoint: z.string() }),
  z.object({ ...base, type: z.literal('job-ended'), jobId: z.string(), status: z.string() }),
  z.object({ ...base, type: z.literal('serve-deployed'), apps: z.array(z.string()) }),
  z.object({ ...base, type: z.literal('serve-deleted'), apps: z.array(z.string()) }),
] as const;

/**
 * A line of the journal. Lines written before kinds had fields of their own kept them in a `data` bag:
 * they are lifted to the top, so an old journal still rebuilds cooldown and back-off.
 */
export const eventSchema = z.preprocess((line) => {
  if (typeof line !== 'object' || line === null || !('data' in line)) return line;
  const { data, ...rest } = line as { data?: unknown };
  return typeof data === 'object' && data !== null ? { ...data, ...rest } : rest;
}, z.discriminatedUnion('type', kinds));

export type JournalEvent = z.infer<typeof eventSchema>;
export type EventType = JournalEvent['type'];
export const eventTypes = kinds.map((kind) => kind.shape.type.value) as EventType[];

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** An event as a writer gives it: the journal adds the version, the time and the cluster. Defaulted fields may be left out. */
export type NewEvent = DistributiveOmit<z.input<(typeof kinds)[number]>, 'v' | 'time' | 'cluster'>;

type Formatters = { [K in EventType]: (event: Extract<JournalEvent, { type: K }>) => string };

/** How each kind reads in one line; a kind without a formatter does not compile. */
const summaries: Formatters = {
  'cluster-up': (event) => `cluster up: ${event.reason}`,
  'cluster-down': (event) => `cluster down: ${event.reason}`,
  'spec-changed': (event) => `spec changed by the ${event.by} (${event.fields.join(', ')}): ${event.reason}`,
  launch: (event) => `launch ${event.node} (${event.group}): ${event.reason}`,
  'launch-failed': (event) => `launch ${event.node === undefined ? `in ${event.group}` : `of ${event.node}`} failed: ${event.reason}`,
  registered: (event) => `${event.node} registered in Ray: ${event.reason}`,
  drain: (event) => `drain ${event.node}: ${event.reason}`,
  'drain-rejected': (event) => `drain of ${event.node} rejected${event.forced ? ' (forced on)' : ''}: ${event.reason}`,
  terminate: (event) => `terminate ${event.node}: ${event.reason}`,
  'head-died': (event) => `head ${event.node} died (${event.deaths} in a row): ${event.reason}`,
  'head-restarted': (event) => `head ${event.node} restarted${event.awayMs === undefined ? '' : ` after ${Math.round(event.awayMs / 1000)} s away`}: ${event.reason}`,
  'orphan-stopped': (event) => `orphan ${event.node ?? '(no node name)'} stopped (process group ${event.providerId}, pids ${event.pids.join(' ')}): ${event.reason}`,
  failure: (event) => `failure${event.node === undefined ? '' : ` on ${event.node}`}: ${event.reason}`,
  'scale-up': (event) => `scale up ${event.group} by ${event.count}: ${event.reason}`,
  withheld: (event) => `withheld (${event.cause})${event.group === undefined ? '' : ` in ${event.group}`}: ${event.reason}`,
  infeasible: (event) => `infeasible: ${event.reason}`,
  watcher: (event) => `watcher: ${event.reason}`,
  'job-submitted': (event) => `job ${event.jobId} submitted: ${event.entrypoint}`,
  'job-ended': (event) => `job ${event.jobId} ${event.status}: ${event.reason}`,
  'serve-deployed': (event) => `serve deployed ${event.apps.join(', ')}: ${event.reason}`,
  'serve-deleted': (event) => `serve deleted ${event.apps.join(', ')}: ${event.reason}`,
};

export function summarizeEvent(event: JournalEvent): string {
  return (summaries[event.type] as (event: JournalEvent) => string)(event);
}

/** The node an event is about, when it is about one. */
export function nodeOf(event: JournalEvent): string | undefined {
  return 'node' in event ? event.node : undefined;
}

/** The worker group an event is about, when it is about one. */
export function groupOf(event: JournalEvent): string | undefined {
  return 'group' in event ? event.group : undefined;
}
