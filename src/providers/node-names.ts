// How nodes are named and numbered: `ray-head`, `ray-worker-1`, `ray-gpu-2`, lowest free index first.
import { RayfleetError } from '../errors.js';

/** The group whose nodes keep the old toolkit's names, `<cluster>-worker-N`. */
export const DEFAULT_GROUP = 'worker';
export const HEAD_GROUP = 'head';

export function headName(cluster: string): string {
  return `${cluster}-head`;
}

export function workerName(cluster: string, group: string, index: number): string {
  return `${cluster}-${group}-${index}`;
}

/** The lowest index from 1 up that no node of the group holds, so removed workers' names come back. */
export function lowestFreeIndex(taken: Iterable<number>): number {
  const used = new Set(taken);
  let index = 1;
  while (used.has(index)) index += 1;
  return index;
}

/** `count` indices, each the lowest still free once the previous ones are taken. */
export function nextFreeIndices(taken: Iterable<number>, count: number): number[] {
  const used = new Set(taken);
  const picked: number[] = [];
  while (picked.length < count) {
    const index = lowestFreeIndex(used);
    used.add(index);
    picked.push(index);
  }
  return picked;
}

/** Every name rayfleet gives a node: the cluster's and group's names are `[a-z][a-z0-9-]*`, then `head` or an index. */
const NODE_NAME = /^[a-z][a-z0-9-]{0,30}-(head|[a-z][a-z0-9-]{0,30}-[1-9][0-9]{0,5})$/;

/** Refuses, before it reaches a path or a request, a name that no node can have (`../../x`, a typo with a slash). */
export function assertNodeName(name: string): void {
  if (!NODE_NAME.test(name)) {
    throw new RayfleetError('NODE_NOT_FOUND', `"${name}" is not a node name`, { details: 'Node names are <cluster>-head and <cluster>-<group>-<n>, e.g. ray-head, ray-worker-1; `rayfleet status` lists them.' });
  }
}
