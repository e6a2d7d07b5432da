// Where a node goes in an SSH pool: hosts are bins in CPUs, GPUs and memory, never oversubscribed by rayfleet's own nodes.
import type { NodeResources } from '../node-provider.js';

/** One host as a bin: what it offers rayfleet's nodes, and whether a launch may go there now. */
export interface HostBin {
  address: string;
  cpus: number;
  gpus: number;
  /** Unknown (undefined) memory is not a limit. */
  memoryBytes: number | undefined;
  /** False while the host does not answer, or backs off after a failed launch. */
  usable: boolean;
}

/** A node that holds room on a host, running or launching or unknown. */
export interface PlacedNode {
  host: string;
  resources: NodeResources;
}

/** What a node takes of its host's memory: Ray's logical memory and its object store. */
function memoryOf(resources: NodeResources): number {
  return (resources.memoryBytes ?? 0) + (resources.objectStoreMemoryBytes ?? 0);
}

interface Room {
  cpus: number;
  gpus: number;
  memoryBytes: number;
}

function roomLeft(host: HostBin, placed: readonly PlacedNode[]): Room {
  const on = placed.filter((node) => node.host === host.address);
  return {
    cpus: host.cpus - on.reduce((sum, node) => sum + node.resources.cpus, 0),
    gpus: host.gpus - on.reduce((sum, node) => sum + node.resources.gpus, 0),
    memoryBytes: host.memoryBytes === undefined ? Infinity : host.memoryBytes - on.reduce((sum, node) => sum + memoryOf(node.resources), 0),
  };
}

/** A tiny tolerance: fractional CPUs (0.5 + 0.25 + 0.25) must fit a host of 1. */
const EPSILON = 1e-9;

function fits(shape: NodeResources, room: Room): boolean {
  return shape.cpus <= room.cpus + EPSILON && shape.gpus <= room.gpus + EPSILON && memoryOf(shape) <= room.memoryBytes + EPSILON;
}

/**
 * The host a node of this shape goes to, or undefined when no usable host has room. GPU shapes only where GPUs are left;
 * a shape without GPUs prefers hosts without GPUs, so the GPUs stay free for work that needs them. Among those, the
 * host with the most CPUs left (spread, as one would by hand: each raylet gets a machine to itself while there are
 * machines, and losing one host loses fewer nodes), then the order the spec lists the hosts in.
 */
export function placeNode(shape: NodeResources, hosts: readonly HostBin[], placed: readonly PlacedNode[]): string | undefined {
  const candidates = hosts
    .map((host, order) => ({ host, order, room: roomLeft(host, placed) }))
    .filter(({ host, room }) => host.usable && fits(shape, room));
  const wantsGpu = shape.gpus > 0;
  candidates.sort((a, b) => {
    if (!wantsGpu && (a.host.gpus > 0) !== (b.host.gpus > 0)) return a.host.gpus > 0 ? 1 : -1;
    if (a.room.cpus !== b.room.cpus) return b.room.cpus - a.room.cpus;
    return a.order - b.order;
  });
  return candidates[0]?.host.address;
}

/** How many more nodes of this shape the usable hosts can hold, placed one after another as launches would be. */
export function roomFor(shape: NodeResources, hosts: readonly HostBin[], placed: readonly PlacedNode[], limit: number): number {
  const more: PlacedNode[] = [...placed];
  let count = 0;
  while (count < limit) {
    const host = placeNode(shape, hosts, more);
    if (host === undefined) break;
    more.push({ host, resources: shape });
    count += 1;
  }
  return count;
}
