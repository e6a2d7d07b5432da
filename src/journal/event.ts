// One line of a cluster's journal: what happened, to which node, and why.
import { z } from 'zod';

export const eventTypes = [
  'cluster-up',
  'cluster-down',
  'launch',
  'launch-failed',
  'registered',
  'drain',
  'drain-rejected',
  'terminate',
  'failure',
  'scale-up',
  'infeasible',
  'watcher',
] as const;

export type EventType = (typeof eventTypes)[number];

export const eventSchema = z.object({
  v: z.literal(1),
  time: z.string(),
  type: z.enum(eventTypes),
  cluster: z.string(),
  node: z.string().optional(),
  group: z.string().optional(),
  /** Why, in words a person reads: "add-worker --count 2", "idle 65 s > idleTimeout 60 s". */
  reason: z.string(),
  /** The numbers behind the decision, and error codes: what caused it, not just that it happened. */
  data: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});

export type JournalEvent = z.infer<typeof eventSchema>;

export type NewEvent = Omit<JournalEvent, 'v' | 'time' | 'cluster'>;

/** How each kind reads in one line; a kind without a formatter does not compile. */
const summaries: Record<EventType, (event: JournalEvent) => string> = {
  'cluster-up': (event) => `cluster up: ${event.reason}`,
  'cluster-down': (event) => `cluster down: ${event.reason}`,
  launch: (event) => `launch ${event.node ?? '?'} (${event.group ?? '?'}): ${event.reason}`,
  'launch-failed': (event) => `launch of ${event.node ?? '?'} failed: ${event.reason}`,
  registered: (event) => `${event.node ?? '?'} registered in Ray: ${event.reason}`,
  drain: (event) => `drain ${event.node ?? '?'}: ${event.reason}`,
  'drain-rejected': (event) => `drain of ${event.node ?? '?'} rejected: ${event.reason}`,
  terminate: (event) => `terminate ${event.node ?? '?'}: ${event.reason}`,
  failure: (event) => `failure${event.node === undefined ? '' : ` on ${event.node}`}: ${event.reason}`,
  'scale-up': (event) => `scale up ${event.group ?? '?'}: ${event.reason}`,
  infeasible: (event) => `infeasible: ${event.reason}`,
  watcher: (event) => `watcher: ${event.reason}`,
};

export function summarizeEvent(event: JournalEvent): string {
  return summaries[event.type](event);
}
