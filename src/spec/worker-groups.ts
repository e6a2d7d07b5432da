// Finding a spec's worker groups by name, and the default one that the old toolkit's flags and `add-worker` mean.
import { RayfleetError } from '../errors.js';
import type { ClusterSpec, WorkerGroupSpec } from './schema.js';

/** The group the old toolkit's flags and `add-worker` mean, and whose nodes keep the old names (ray-worker-1). */
export const DEFAULT_GROUP = 'worker';

/** The group named `worker`, else the first: the schema guarantees at least one. */
export function defaultGroup(spec: Pick<ClusterSpec, 'workerGroups'>): WorkerGroupSpec {
  const group = spec.workerGroups.find((candidate) => candidate.name === DEFAULT_GROUP) ?? spec.workerGroups[0];
  if (group === undefined) throw new RayfleetError('SPEC_INVALID', 'the spec has no worker group');
  return group;
}

/** The group of that name; GROUP_NOT_FOUND naming the groups there are when there is none. The one check of a group's name. */
export function groupNamed(spec: Pick<ClusterSpec, 'workerGroups'>, name: string): WorkerGroupSpec {
  const group = spec.workerGroups.find((candidate) => candidate.name === name);
  if (group === undefined) {
    throw new RayfleetError('GROUP_NOT_FOUND', `no worker group named ${name}; the groups are ${spec.workerGroups.map((candidate) => candidate.name).join(', ')}`);
  }
  return group;
}
