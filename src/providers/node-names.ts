// How nodes are named and numbered: `ray-head`, `ray-worker-1`, `ray-gpu-2`, lowest free index first.
import { RayfleetError } from '../errors.js';
import { DEFAULT_GROUP } from '../spec/worker-groups.js';
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
  // Each pick is above the one before: the search goes on from there, in one set (not a copy of it per pick).
  for (let index = 1; picked.length < count; index += 1) if (!used.has(index)) picked.push(index);
  return picked;
}

/** The spec's rule for cluster and group names (schema.ts): a letter a-z, then a-z, 0-9 and -, at most 31 characters. */
const NAME_PART = '[a-z][a-z0-9-]{0,30}';
/** Every name rayfleet gives a node: `<cluster>-head`, or `<cluster>-<group>-<n>` with n from 1, no leading zero. */
const NODE_NAME = new RegExp(`^${NAME_PART}-(head|${NAME_PART}-[1-9][0-9]{0,5})$`);
const GROUP_NODE_SUFFIX = new RegExp(`^(${NAME_PART})-[1-9][0-9]{0,5}$`);

/** Whether a node of the cluster (of any cluster, when none is given) could have this name. */
export function isNodeName(name: string, cluster?: string): boolean {
  if (!NODE_NAME.test(name)) return false;
  if (cluster === undefined) return true;
  if (!name.startsWith(`${cluster}-`)) return false;
  const rest = name.slice(cluster.length + 1);
  // "head" names the head node, never a group (the schema refuses a group of that name).
  return rest === 'head' || GROUP_NODE_SUFFIX.exec(rest)?.[1] !== HEAD_GROUP;
}

/**
 * Refuses, before it reaches a path or a request, a name that no node of the cluster can have (`../../x`, a typo
 * with a slash, another cluster's node). NODE_NOT_FOUND (exit 3), not USAGE: a name that cannot exist names no node,
 * and a script then sees one code for `logs ray-worker-99` and `logs ../x` alike.
 */
export function assertNodeName(name: string, cluster?: string): void {
  if (isNodeName(name, cluster)) return;
  const example = cluster ?? 'ray';
  throw new RayfleetError('NODE_NOT_FOUND', `${JSON.stringify(name)} is not the name of a node${cluster === undefined ? '' : ` of cluster ${cluster}`}`, {
    details: `Node names are <cluster>-head and <cluster>-<group>-<n>, e.g. ${headName(example)}, ${workerName(example, DEFAULT_GROUP, 1)}; \`rayfleet status\` lists them.`,
  });
}
