// The nodes a plan packs demand into, existing or opened, indexed by their free resources so best fit stays fast on large clusters.
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import { EPSILON, fits } from './resource-shapes.js';

/** The placement groups of a bin that holds none: one set for all of them, since packing never changes a bin's. */
export const NO_GANGS: ReadonlySet<string> = new Set();

/** Free capacity of one node during packing. */
export interface Bin {
  name: string;
  group: string | undefined;
  free: ResourceShape;
  /** A node that runs (a worker or the head), a launch in flight, or a node this plan launches. */
  kind: 'node' | 'in-flight' | 'new';
  /** Placement groups that already have a bundle here (STRICT_SPREAD must avoid them). */
  gangs: ReadonlySet<string>;
  /** The packing put demand here: a running node that took some must not be drained. */
  took: boolean;
  /** Kept by `Bins`: the bin's bucket and its place in it. */
  bucketKey: string;
  bucketAt: number;
}

/**
 * A bin with its own copy of the free resources packing looks at (`names`, as in `keyNames`). Every bin is made here,
 * with its fields in one order and its resources in the order of `names`, so that the hot loops of packing see few
 * object layouts: Ray gives every node a `node:<ip>` resource of its own, and objects that each have a name of their
 * own make every property access slow.
 */
export function newBin(name: string, group: string | undefined, free: ResourceShape, kind: Bin['kind'], names: readonly string[], gangs: ReadonlySet<string> = NO_GANGS): Bin {
  return { name, group, free: project(free, names), kind, gangs, took: false, bucketKey: '', bucketAt: -1 };
}

/** The amounts of `names` the shape has, in that order. */
export function project(shape: ResourceShape, names: readonly string[]): ResourceShape {
  const projected: ResourceShape = {};
  for (const name of names) {
    const amount = shape[name];
    if (amount !== undefined) projected[name] = amount;
  }
  return projected;
}

/** How much a unit left over weighs in best fit: GPUs most, then CPUs; Ray sizes memory from the machine, so it does not count. */
const LEFTOVER_WEIGHT: Record<string, number> = { GPU: 1e6, CPU: 1e3, memory: 0, object_store_memory: 0 };
/** Unbounded resources (memory a group leaves to Ray) compare as this much. */
const BOUNDLESS = 1e12;

/**
 * A bin's bucket: its free amounts of the resources packing looks at (`names`: what the demand asks for, and GPU),
 * and the placement groups it holds, which decide where STRICT_SPREAD may go. Other resources do not count: every
 * Ray node has a `node:<ip>` of its own, and keying on it would give each node a bucket of its own.
 */
export function keyOf(bin: Bin, names: readonly string[]): string {
  let key = '';
  for (const name of names) {
    const amount = bin.free[name];
    key += amount === undefined ? '-,' : `${Math.round(amount * 1e6)},`;
  }
  return bin.gangs.size === 0 ? key : `${key}|${[...bin.gangs].sort().join(',')}`;
}

/** The names bins are keyed on for these units of demand: every name they ask for, and GPU (kept for GPU work). */
export function keyNames(units: Iterable<ResourceShape>): string[] {
  const names = new Set<string>(['GPU']);
  for (const unit of units) for (const name in unit) names.add(name);
  return [...names].sort();
}

export class Bins {
  /** Bins with the same free resources share a bucket: best fit looks at each distinct bucket once. */
  private readonly buckets = new Map<string, Bin[]>();
  /** Bucket key after a take, by key before, shape and times: alike bins taking alike units need it worked out once. */
  private readonly transitions = new Map<string, Map<ResourceShape, Map<number, string>>>();
  /** What to do to go back, newest last, while a mark is open: a gang placed in part is taken back out. */
  private readonly undo: Array<() => void> = [];
  private marks = 0;

  /** `names`: the resources bins are keyed on (`keyNames` of every unit that will be placed). */
  constructor(readonly names: readonly string[]) {}

  /** Adds a bin; `key` is its bucket key when the caller knows it (`keyOf` on the same names), to spare working it out. */
  add(bin: Bin, key = keyOf(bin, this.names)): void {
    this.index(bin, key);
    if (this.marks > 0) this.undo.push(() => this.unindex(bin));
  }

  /**
   * The bin the shape fits best: for work that needs no GPU, a bin without free GPUs first (GPU nodes are kept
   * for GPU work, as Ray's scheduler does); then the one left with the least of what the shape asks for; on a
   * tie, the smaller bucket key. Bins in one bucket are alike in all that packing looks at, so the choice depends
   * on the bins' states alone, never on names or on the order things happened: two packings over the same bins
   * choose alike. Bins `avoid` refuses are skipped.
   */
  bestFit(shape: ResourceShape, avoid?: (bin: Bin) => boolean): Bin | undefined {
    const asked = Object.keys(shape).filter((name) => (shape[name] ?? 0) > EPSILON);
    const conserveGpu = (shape.GPU ?? 0) <= EPSILON;
    let best: Bin | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    let bestKey = '';
    for (const [key, bucket] of this.buckets) {
      const first = bucket[bucket.length - 1];
      if (first === undefined || !fits(shape, first.free)) continue;
      let score = conserveGpu && (first.free.GPU ?? 0) > EPSILON ? 1e18 : 0;
      for (const name of asked) {
        const free = first.free[name];
        score += (LEFTOVER_WEIGHT[name] ?? 1) * (Math.min(free ?? BOUNDLESS, BOUNDLESS) - (shape[name] ?? 0));
      }
      if (score > bestScore || (score === bestScore && key >= bestKey)) continue;
      const usable = avoid === undefined ? first : bucket.findLast((bin) => !avoid(bin));
      if (usable === undefined) continue;
      best = usable;
      bestScore = score;
      bestKey = key;
    }
    return best;
  }

  /** How many units of the shape the bin can still take (at least 1 when the shape fits). */
  room(bin: Bin, shape: ResourceShape): number {
    let room = Number.POSITIVE_INFINITY;
    for (const [name, amount] of Object.entries(shape)) {
      if (amount <= EPSILON) continue;
      const free = bin.free[name];
      if (free === undefined) {
        if (name === 'memory' || name === 'object_store_memory') continue;
        return 0;
      }
      room = Math.min(room, Math.floor((free + EPSILON) / amount));
    }
    return room;
  }

  /** Up to `count` bins alike to this one (free resources and placement groups the same), itself first. */
  alike(bin: Bin, count: number): Bin[] {
    const peers = [bin];
    const bucket = this.buckets.get(bin.bucketKey);
    if (bucket === undefined) return peers;
    for (let at = bucket.length - 1; at >= 0 && peers.length < count; at -= 1) {
      const peer = bucket[at];
      if (peer !== undefined && peer !== bin) peers.push(peer);
    }
    return peers;
  }

  /** Takes `times` units of the shape out of the bin's free resources. */
  take(bin: Bin, shape: ResourceShape, times = 1): void {
    const before = this.marks > 0 ? { ...bin.free } : undefined;
    const oldKey = bin.bucketAt >= 0 ? bin.bucketKey : keyOf(bin, this.names);
    this.unindex(bin);
    for (const name in shape) {
      const free = bin.free[name];
      if (free !== undefined) bin.free[name] = free - (shape[name] ?? 0) * times;
    }
    this.index(bin, this.keyAfter(oldKey, bin, shape, times));
    if (before !== undefined) {
      this.undo.push(() => {
        this.unindex(bin);
        bin.free = before;
        this.index(bin, oldKey);
      });
    }
  }

  private keyAfter(oldKey: string, bin: Bin, shape: ResourceShape, times: number): string {
    if (bin.gangs.size > 0) return keyOf(bin, this.names);
    let byShape = this.transitions.get(oldKey);
    if (byShape === undefined) {
      byShape = new Map();
      this.transitions.set(oldKey, byShape);
    }
    let byTimes = byShape.get(shape);
    if (byTimes === undefined) {
      byTimes = new Map();
      byShape.set(shape, byTimes);
    }
    let key = byTimes.get(times);
    if (key === undefined) {
      key = keyOf(bin, this.names);
      byTimes.set(times, key);
    }
    return key;
  }

  /** Opens a point to come back to: until it is rolled back or released, every add and take can be undone. */
  mark(): number {
    this.marks += 1;
    return this.undo.length;
  }

  /** Undoes every add and take since the mark, and closes it. */
  rollback(mark: number): void {
    while (this.undo.length > mark) this.undo.pop()?.();
    this.release();
  }

  /** Keeps what happened since the mark, and closes it. */
  release(): void {
    this.marks -= 1;
    if (this.marks === 0) this.undo.length = 0;
  }

  private index(bin: Bin, key: string): void {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = [];
      this.buckets.set(key, bucket);
    }
    bin.bucketKey = key;
    bin.bucketAt = bucket.length;
    bucket.push(bin);
  }

  /** Takes the bin out of its bucket: the bucket's last bin moves into its place. */
  private unindex(bin: Bin): void {
    const key = bin.bucketKey;
    const at = bin.bucketAt;
    const bucket = this.buckets.get(key);
    if (bucket === undefined || bucket[at] !== bin) return;
    const last = bucket.pop() as Bin;
    if (last !== bin) {
      bucket[at] = last;
      last.bucketAt = at;
    }
    if (bucket.length === 0) this.buckets.delete(key);
    bin.bucketAt = -1;
  }
}
