// Arithmetic on resource shapes: what a group's node offers, whether a shape fits, and which shapes are no demand for new nodes.
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import type { WorkerGroupSpec } from '../spec/schema.js';

/** Ray's resources whose size rayfleet does not fix unless the group does: Ray sizes them from the machine. */
const MACHINE_SIZED = ['memory', 'object_store_memory'];

/** A tolerance for Ray's fractional resources (0.1 CPU ten times is not always 1.0 in floating point). */
export const EPSILON = 1e-9;

/** What one node of the group offers to Ray's scheduler. */
export function groupCapacity(group: WorkerGroupSpec): ResourceShape {
  const capacity: ResourceShape = { CPU: group.cpus, ...group.resources };
  if (group.gpus > 0) capacity.GPU = group.gpus;
  capacity.memory = group.memoryBytes ?? Number.POSITIVE_INFINITY;
  capacity.object_store_memory = group.objectStoreMemoryBytes ?? Number.POSITIVE_INFINITY;
  return capacity;
}

export function fits(shape: ResourceShape, free: ResourceShape): boolean {
  for (const name in shape) {
    const amount = shape[name] ?? 0;
    if (amount <= EPSILON) continue;
    const have = free[name] ?? (MACHINE_SIZED.includes(name) ? Number.POSITIVE_INFINITY : 0);
    if (have + EPSILON < amount) return false;
  }
  return true;
}

export function subtract(free: ResourceShape, shape: ResourceShape): void {
  for (const [name, amount] of Object.entries(shape)) {
    if (free[name] !== undefined) free[name] -= amount;
  }
}

export function add(a: ResourceShape, b: ResourceShape): ResourceShape {
  const sum: ResourceShape = { ...a };
  for (const [name, amount] of Object.entries(b)) sum[name] = (sum[name] ?? 0) + amount;
  return sum;
}

/**
 * Placement-group bundle resources (`CPU_group_<id>`, `CPU_group_0_<id>`) exist only on nodes that hold the
 * group's bundles: a task waiting for them waits for the group, which its gang demand already covers.
 * `node:<ip>` pins a task to one node that already exists. Neither is demand for a new node.
 */
export function isDemandForNewNodes(shape: ResourceShape): boolean {
  const names = Object.keys(shape).filter((name) => (shape[name] ?? 0) > 0);
  return names.length > 0 && names.every((name) => !isBundleOrPin(name));
}

/** Whether everything the node has is free (its bundle resources aside). */
export function isUnused(total: ResourceShape, available: ResourceShape): boolean {
  for (const name in total) {
    if (isBundleOrPin(name)) continue;
    if ((available[name] ?? 0) + EPSILON < (total[name] ?? 0)) return false;
  }
  return true;
}

function isBundleOrPin(name: string): boolean {
  return name.includes('_group_') || name.startsWith('node:');
}

/** A size to order shapes by, largest first: GPUs weigh most, then CPUs, then the rest. */
export function weight(shape: ResourceShape): number {
  return (shape.GPU ?? 0) * 1e6 + (shape.CPU ?? 0) * 1e3 + Object.keys(shape).length;
}

/** One string per distinct shape, whatever the order of its names: for grouping equal shapes and free capacities. */
export function shapeKey(shape: ResourceShape): string {
  return Object.keys(shape)
    .sort()
    .map((name) => `${name}=${Math.round((shape[name] ?? 0) * 1e6)}`)
    .join(',');
}

export function describeShape(shape: ResourceShape): string {
  return `{${Object.entries(shape)
    .map(([name, amount]) => `${name}: ${amount}`)
    .join(', ')}}`;
}
