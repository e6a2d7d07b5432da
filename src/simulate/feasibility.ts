// Whether a unit of work could ever run on a cluster of a spec: every bundle fits the head or a node of some group.
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import type { ClusterSpec } from '../spec/schema.js';
import { fits, groupCapacity, isDemandForNewNodes } from '../watcher/resource-shapes.js';

/**
 * The test for the spec's node shapes, worked out once. A bundle that asks for no new node (a placement group's own
 * resources, a `node:<ip>` pin) counts as feasible: it waits for its group or its node, not for a node type.
 */
export function feasibleIn(spec: ClusterSpec): (unit: { readonly bundles: readonly ResourceShape[] }) => boolean {
  const head: ResourceShape = { CPU: spec.head.cpus, GPU: spec.head.gpus, ...spec.head.resources, memory: Number.POSITIVE_INFINITY, object_store_memory: Number.POSITIVE_INFINITY };
  const nodes = [...spec.workerGroups.map(groupCapacity), head];
  return (unit) => unit.bundles.every((bundle) => !isDemandForNewNodes(bundle) || nodes.some((node) => fits(bundle, node)));
}
