// Packing demand into nodes: best fit into the nodes that are there or on their way, then new nodes of the group that suits each unit best.
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import type { WorkerGroupSpec } from '../spec/schema.js';
import { newBin, type Bin, type Bins } from './bins.js';
import { add, describeShape, fits, groupCapacity, shapeKey } from './resource-shapes.js';

/** One worker group's counts during a plan. */
export interface GroupSlots {
  spec: WorkerGroupSpec;
  capacity: ResourceShape;
  /** Workers of the group that exist or are on their way: registered, in flight, draining, and what earlier rounds planned. */
  live: number;
  /** Nodes this round of packing adds. */
  planned: number;
}

export interface PackingLimits {
  now: number;
  maxWorkers: number;
  backoffUntilMs: Record<string, number>;
  /** Per group, how many more nodes the provider's machines hold (absent: as many as max allows). */
  providerRoom?: Record<string, number> | undefined;
}

export interface Unplaced {
  ok: false;
  why: 'infeasible' | 'capped';
  details: string[];
}

export type GangStrategy = 'STRICT_SPREAD' | 'STRICT_PACK' | 'ANY';

export function slotsFor(groups: WorkerGroupSpec[]): Map<string, GroupSlots> {
  return new Map(groups.map((spec) => [spec.name, { spec, capacity: groupCapacity(spec), live: 0, planned: 0 }]));
}

/**
 * Places units of demand: best fit into the bins (nodes with free room, launches in flight at their group's
 * capacity, and the nodes this packing opened); where none fits, a new node of the group that suits the unit best.
 */
export class Packer {
  /** The new nodes this packing opened, in order. */
  readonly opened: Bin[] = [];
  /** Per group, the shapes placed on its new nodes, for the launch's reason. */
  readonly placedOnNew = new Map<string, Map<string, number>>();
  /** How to take back what a gang placed in part (recorded only while one is being placed). */
  private readonly undo: Array<() => void> = [];
  private recording = false;
  private readonly holdingByShape = new Map<string, GroupSlots[]>();

  constructor(
    readonly bins: Bins,
    private readonly groups: Map<string, GroupSlots>,
    private readonly limits: PackingLimits,
    /** Workers that exist, in every group: registered, in flight and draining. */
    private readonly liveWorkers: number,
  ) {}

  plannedTotal(): number {
    let total = 0;
    for (const slot of this.groups.values()) total += slot.planned;
    return total;
  }

  /** Whether the group may launch one more node, and if not, why. */
  canAdd(slot: GroupSlots, why: string[]): boolean {
    const backoffUntil = this.limits.backoffUntilMs[slot.spec.name] ?? 0;
    if (backoffUntil > this.limits.now) {
      why.push(`group ${slot.spec.name} backs off for ${Math.ceil((backoffUntil - this.limits.now) / 1000)} s after failed launches`);
      return false;
    }
    if (slot.live + slot.planned >= slot.spec.max) {
      why.push(`group ${slot.spec.name} is at its max ${slot.spec.max}`);
      return false;
    }
    const room = this.limits.providerRoom?.[slot.spec.name];
    if (room !== undefined && slot.planned >= room) {
      why.push(`group ${slot.spec.name}: the hosts have no room for more of its nodes`);
      return false;
    }
    if (this.liveWorkers + this.plannedTotal() >= this.limits.maxWorkers) {
      why.push(`the cluster is at maxWorkers ${this.limits.maxWorkers}`);
      return false;
    }
    return true;
  }

  /** Places `count` units of one shape; returns how many could not be placed and why, and the bin that took the last unit. */
  placeShape(shape: ResourceShape, count: number, avoid?: (bin: Bin) => boolean): { left: number; failure?: Unplaced; last?: Bin } {
    const what = describeShape(shape);
    let left = count;
    let last: Bin | undefined;
    while (left > 0) {
      const best = this.bins.bestFit(shape, avoid);
      if (best === undefined) {
        // Nothing open holds the unit: new nodes, each filled as far as it goes (nothing else changed, so the next still fits nowhere else).
        while (left > 0) {
          const opened = this.open(shape);
          if (!opened.ok) return { left, failure: opened };
          const times = Math.min(left, Math.max(1, this.bins.room(opened.bin, shape)));
          this.put(opened.bin, shape, what, times);
          left -= times;
          last = opened.bin;
        }
        break;
      }
      // A bin filled to its room fits the unit no more and the others did not change, so the best fit stays in the
      // same bucket: its alike bins take the units one after another, as placing them one by one would.
      const room = Math.max(1, this.bins.room(best, shape));
      for (const bin of avoid === undefined ? this.bins.alike(best, Math.ceil(left / room)) : [best]) {
        const times = Math.min(left, room);
        this.put(bin, shape, what, times);
        left -= times;
        last = bin;
      }
    }
    return last === undefined ? { left: 0 } : { left: 0, last };
  }

  /** All bundles of a gang or none: a placement group half placed holds resources and runs nothing. */
  placeGang(gangId: string, strategy: GangStrategy, bundles: ResourceShape[]): { ok: true } | Unplaced {
    const binsMark = this.bins.mark();
    this.recording = true;
    const units = strategy === 'STRICT_PACK' ? [bundles.reduce((sum, bundle) => add(sum, bundle), {})] : bundles;
    const used = new Set<Bin>();
    const avoid = strategy === 'STRICT_SPREAD' ? (bin: Bin): boolean => used.has(bin) || bin.gangs.has(gangId) : undefined;
    try {
      for (const unit of units) {
        const placed = this.placeShape(unit, 1, avoid);
        if (placed.failure !== undefined) {
          this.bins.rollback(binsMark);
          while (this.undo.length > 0) this.undo.pop()?.();
          return placed.failure;
        }
        if (placed.last !== undefined) used.add(placed.last);
      }
      this.bins.release();
      return { ok: true };
    } finally {
      this.recording = false;
      this.undo.length = 0;
    }
  }

  private put(bin: Bin, shape: ResourceShape, what: string, times: number): void {
    this.bins.take(bin, shape, times);
    if (!bin.took) {
      bin.took = true;
      if (this.recording) this.undo.push(() => (bin.took = false));
    }
    if (bin.kind === 'new' && bin.group !== undefined) this.notePlaced(bin.group, what, times);
  }

  private notePlaced(group: string, what: string, times: number): void {
    const placed = this.placedOnNew.get(group) ?? new Map<string, number>();
    this.placedOnNew.set(group, placed);
    placed.set(what, (placed.get(what) ?? 0) + times);
    if (this.recording) {
      this.undo.push(() => {
        const now = (placed.get(what) ?? times) - times;
        if (now > 0) placed.set(what, now);
        else placed.delete(what);
      });
    }
  }

  /** The groups whose node can hold the shape, in the order to open them: GPU nodes are dear, so work that needs none goes elsewhere when it can. */
  private holding(shape: ResourceShape): GroupSlots[] {
    const key = shapeKey(shape);
    let holding = this.holdingByShape.get(key);
    if (holding === undefined) {
      const wantsGpu = (shape.GPU ?? 0) > 0;
      holding = [...this.groups.values()]
        .filter((slot) => fits(shape, slot.capacity))
        .sort((a, b) => (wantsGpu ? 0 : Number(a.spec.gpus > 0) - Number(b.spec.gpus > 0)) || a.spec.gpus - b.spec.gpus || a.spec.cpus - b.spec.cpus);
      this.holdingByShape.set(key, holding);
    }
    return holding;
  }

  /** Opens a new node for the shape: of the first group in order that may launch one. */
  private open(shape: ResourceShape): { ok: true; bin: Bin } | Unplaced {
    const holding = this.holding(shape);
    if (holding.length === 0) return { ok: false, why: 'infeasible', details: [`no worker group can hold ${describeShape(shape)}`] };
    const why: string[] = [];
    const slot = holding.find((candidate) => this.canAdd(candidate, why));
    if (slot === undefined) return { ok: false, why: 'capped', details: why };
    return { ok: true, bin: this.openIn(slot) };
  }

  /** A new node of the group, open for packing. */
  private openIn(slot: GroupSlots): Bin {
    slot.planned += 1;
    const bin = newBin(`new ${slot.spec.name} ${this.opened.length + 1}`, slot.spec.name, slot.capacity, 'new', this.bins.names);
    this.bins.add(bin);
    this.opened.push(bin);
    if (this.recording) {
      this.undo.push(() => {
        this.opened.pop();
        slot.planned -= 1;
      });
    }
    return bin;
  }
}
