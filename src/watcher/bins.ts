// The nodes a plan packs demand into, existing or planned, indexed by their free resources so best fit stays fast on large clusters.
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import { fits, subtract, weight } from './resource-shapes.js';

/** Free capacity of one node during packing. */
export interface Bin {
  name: string;
  group: string | undefined;
  free: ResourceShape;
  planned: boolean;
  /** Placement groups that already have a bundle here (STRICT_SPREAD must avoid them). */
  gangs: Set<string>;
}

function keyOf(free: ResourceShape): string {
  return Object.keys(free)
    .sort()
    .map((name) => `${name}=${Math.round((free[name] ?? 0) * 1e6)}`)
    .join(',');
}

export class Bins {
  private readonly all: Bin[] = [];
  /** Bins with the same free resources share a bucket: best fit looks at each distinct bucket once. */
  private readonly buckets = new Map<string, Set<Bin>>();

  constructor(bins: Bin[] = []) {
    for (const bin of bins) this.add(bin);
  }

  list(): readonly Bin[] {
    return this.all;
  }

  add(bin: Bin): void {
    this.all.push(bin);
    this.index(bin);
  }

  /**
   * The bin the shape fits best: the one left with the least of what the shape asks for. Only the asked
   * resources count, so the same demand packs the same way whether its nodes are planned or launching.
   * Bins `avoid` refuses are skipped.
   */
  bestFit(shape: ResourceShape, avoid?: (bin: Bin) => boolean): Bin | undefined {
    const asked = Object.keys(shape);
    let best: Bin | undefined;
    let bestLeftover = Number.POSITIVE_INFINITY;
    for (const bucket of this.buckets.values()) {
      const first = bucket.values().next().value;
      if (first === undefined || !fits(shape, first.free)) continue;
      const leftover = weight(Object.fromEntries(asked.map((name) => [name, Math.min(first.free[name] ?? Number.POSITIVE_INFINITY, 1e12) - (shape[name] ?? 0)])));
      if (leftover >= bestLeftover) continue;
      const usable = avoid === undefined ? first : [...bucket].find((bin) => !avoid(bin));
      if (usable === undefined) continue;
      best = usable;
      bestLeftover = leftover;
    }
    return best;
  }

  /** Takes the shape out of the bin's free resources. */
  take(bin: Bin, shape: ResourceShape): void {
    this.unindex(bin);
    subtract(bin.free, shape);
    this.index(bin);
  }

  /** Remembers every bin's free resources; the returned function puts them back and drops bins added since. */
  snapshot(): () => void {
    const count = this.all.length;
    const frees = this.all.map((bin) => ({ ...bin.free }));
    return () => {
      this.all.length = count;
      this.buckets.clear();
      this.all.forEach((bin, index) => {
        bin.free = frees[index] ?? bin.free;
        this.index(bin);
      });
    };
  }

  private index(bin: Bin): void {
    const key = keyOf(bin.free);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new Set();
      this.buckets.set(key, bucket);
    }
    bucket.add(bin);
  }

  private unindex(bin: Bin): void {
    const key = keyOf(bin.free);
    const bucket = this.buckets.get(key);
    bucket?.delete(bin);
    if (bucket?.size === 0) this.buckets.delete(key);
  }
}
