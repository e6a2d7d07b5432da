// Where the simulated Ray puts a task, an actor or a placement group's bundles: an approximation of Ray's hybrid scheduling policy.
//
// Ray's default ("hybrid") policy walks the nodes starting from the local one and packs work onto the first
// feasible node whose utilisation is below `scheduler_spread_threshold` (0.5); when every feasible node is at or
// above it, it spreads to the least utilised one. Work that needs no GPU avoids GPU nodes while any other
// node can take it (`scheduler_avoid_gpu_nodes`). This module does the same over the nodes in registration
// order (the head, where drivers run, first), with utilisation as the busiest resource's used share. What it
// leaves out: Ray's random top-k choice among equally good nodes, locality of task arguments, label selectors,
// and the delay between a raylet's report and the GCS's view.
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import { weight } from '../watcher/resource-shapes.js';

export type TaskStrategy = 'DEFAULT' | 'SPREAD';
export type GroupStrategy = 'PACK' | 'SPREAD' | 'STRICT_PACK' | 'STRICT_SPREAD';

/** Ray's `scheduler_spread_threshold` default. */
export const SPREAD_THRESHOLD = 0.5;
/** Fractional resources add up with rounding error (0.1 CPU ten times is not 1.0). */
const EPSILON = 1e-9;

export interface PlacementNode {
  readonly total: ResourceShape;
  available: ResourceShape;
  readonly hasGpu: boolean;
}

type AvailableOf = (node: PlacementNode) => ResourceShape;

export function fitsIn(shape: ResourceShape, available: ResourceShape): boolean {
  for (const name in shape) {
    const amount = shape[name] ?? 0;
    if (amount > EPSILON && (available[name] ?? 0) + EPSILON < amount) return false;
  }
  return true;
}

export function takeFrom(available: ResourceShape, shape: ResourceShape): void {
  for (const name in shape) available[name] = (available[name] ?? 0) - (shape[name] ?? 0);
}

export function giveBack(available: ResourceShape, shape: ResourceShape): void {
  for (const name in shape) available[name] = (available[name] ?? 0) + (shape[name] ?? 0);
}

export function sumOf(shapes: readonly ResourceShape[]): ResourceShape {
  const sum: ResourceShape = {};
  for (const shape of shapes) giveBack(sum, shape);
  return sum;
}

/** The busiest resource's share in use, 0…1; `node:<ip>` markers do not count. */
export function utilization(total: ResourceShape, available: ResourceShape): number {
  let highest = 0;
  for (const name in total) {
    const capacity = total[name] ?? 0;
    if (capacity <= 0 || name.startsWith('node:')) continue;
    highest = Math.max(highest, (capacity - (available[name] ?? 0)) / capacity);
  }
  return highest;
}

export interface PickOptions {
  /** Nodes the shape may not go to (STRICT_SPREAD's nodes already used). */
  exclude?: ReadonlySet<PlacementNode>;
  /** Nodes tried first (PACK's nodes already used). */
  prefer?: ReadonlySet<PlacementNode>;
  availableOf?: AvailableOf;
}

/** The node the shape goes to now, or undefined when no node can take it. */
export function pickNode<N extends PlacementNode>(nodes: readonly N[], shape: ResourceShape, strategy: TaskStrategy, options: PickOptions = {}): N | undefined {
  const availableOf = options.availableOf ?? ((node: PlacementNode) => node.available);
  const feasible = (node: N): boolean => options.exclude?.has(node) !== true && fitsIn(shape, availableOf(node));
  const tiers: Array<(node: N) => boolean> = (shape.GPU ?? 0) > 0 ? [() => true] : [(node) => !node.hasGpu, (node) => node.hasGpu];
  const preferred = options.prefer;
  for (const inTier of tiers) {
    if (preferred !== undefined && preferred.size > 0) {
      const chosen = choose(nodes.filter((node) => inTier(node) && preferred.has(node) && feasible(node)), strategy, availableOf);
      if (chosen !== undefined) return chosen;
    }
    const chosen = choose(nodes.filter((node) => inTier(node) && feasible(node)), strategy, availableOf);
    if (chosen !== undefined) return chosen;
  }
  return undefined;
}

function choose<N extends PlacementNode>(feasible: readonly N[], strategy: TaskStrategy, availableOf: AvailableOf): N | undefined {
  let least: N | undefined;
  let leastUse = Number.POSITIVE_INFINITY;
  for (const node of feasible) {
    const use = utilization(node.total, availableOf(node));
    if (strategy === 'DEFAULT' && use < SPREAD_THRESHOLD) return node;
    if (use < leastUse) {
      least = node;
      leastUse = use;
    }
  }
  return least;
}

/**
 * One node per bundle (aligned with `bundles`), all or nothing, without changing any node: the caller commits.
 * STRICT_PACK: every bundle on one node. PACK: one node if any holds them all, else as few as the bundles need.
 * STRICT_SPREAD: each bundle on its own node. SPREAD: its own node where one is left, else any.
 */
export function placeGroup<N extends PlacementNode>(nodes: readonly N[], bundles: readonly ResourceShape[], strategy: GroupStrategy): N[] | undefined {
  if (strategy === 'STRICT_PACK' || strategy === 'PACK') {
    const one = pickNode(nodes, sumOf(bundles), 'DEFAULT');
    if (one !== undefined) return bundles.map(() => one);
    if (strategy === 'STRICT_PACK') return undefined;
  }
  const scratch = new Map<PlacementNode, ResourceShape>();
  const availableOf: AvailableOf = (node) => scratch.get(node) ?? node.available;
  const used = new Set<PlacementNode>();
  const chosen: Array<N | undefined> = bundles.map(() => undefined);
  // Largest bundles first, as Ray's bundle scheduler sorts them: small ones fill the gaps.
  const order = bundles.map((bundle, index) => ({ bundle, index })).sort((a, b) => weight(b.bundle) - weight(a.bundle) || a.index - b.index);
  for (const { bundle, index } of order) {
    let node: N | undefined;
    if (strategy === 'PACK') node = pickNode(nodes, bundle, 'DEFAULT', { prefer: used, availableOf });
    else if (strategy === 'STRICT_SPREAD') node = pickNode(nodes, bundle, 'SPREAD', { exclude: used, availableOf });
    else node = pickNode(nodes, bundle, 'SPREAD', { exclude: used, availableOf }) ?? pickNode(nodes, bundle, 'SPREAD', { availableOf });
    if (node === undefined) return undefined;
    const left = { ...availableOf(node) };
    takeFrom(left, bundle);
    scratch.set(node, left);
    used.add(node);
    chosen[index] = node;
  }
  return chosen as N[];
}

