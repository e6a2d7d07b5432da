// A test facility: RAYFLEET_FAILPOINTS=<name>[,<name>…] makes this process SIGKILL itself at those named points, to prove recovery from a crash there.
import { RayfleetError } from '../errors.js';
import { readEnv } from '../environment.js';

/** Every point, named by where it is; a point not listed here does not compile. */
export const FAILPOINT_NAMES = [
  /** LocalProvider.launch: the node's name is claimed (a record with pid 0), nothing is started. */
  'local.after-claim',
  /** LocalProvider.launch: the node's process is spawned and waits; its record does not hold the pid yet. */
  'local.after-spawn',
  /** LocalProvider.launch: the record holds the pid; the process has not been let go into `ray start`. */
  'local.after-record',
  /** stopProcessGroup: SIGTERM is sent, the group has not finished stopping, the record still names it. */
  'terminate.after-sigterm',
  /** tryLock: a stale owner's successor is created, the stale owner is not yet cleared. */
  'lock.mid-takeover',
  /** Journal.append: half of the event's line is written, the rest never is (a torn line). */
  'journal.mid-append',
  /** drainThenStop: Ray accepted the drain and it is journaled; the node is not yet stopped. */
  'drain.after-accept',
] as const;

export type FailpointName = (typeof FAILPOINT_NAMES)[number];

const VARIABLE = 'RAYFLEET_FAILPOINTS';
let armed: ReadonlySet<string> | undefined;

/** Dies at once (SIGKILL: no clean-up, no exit handlers, as in a crash) when this point is armed; a no-op otherwise. */
export function failpoint(name: FailpointName): void {
  if (isArmed(name)) process.kill(process.pid, 'SIGKILL');
}

/** Whether the point is armed: for a point that must first do half of its work (a torn write) before it dies. */
export function isArmed(name: FailpointName): boolean {
  armed ??= parseFailpoints(readEnv(VARIABLE));
  return armed.size > 0 && armed.has(name);
}

/** The armed names; a name that is no point fails loudly, since a misspelt point would make a fault test pass without its fault. */
export function parseFailpoints(value: string | undefined): ReadonlySet<string> {
  const names = (value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !(FAILPOINT_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new RayfleetError('USAGE', `${VARIABLE} names no such failpoint: ${unknown.join(', ')}`, { details: `The points are: ${FAILPOINT_NAMES.join(', ')}.` });
  }
  return new Set(names);
}
