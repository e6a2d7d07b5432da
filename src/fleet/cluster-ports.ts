// The ports a cluster gets at `up`: what the spec sets (which must be free), else the old defaults when free, else free ones.
import { RayfleetError } from '../errors.js';
import { backendOf } from '../providers/backend-of.js';
import { findFreePort, findFreePortOutside, isPortFree } from '../net/ports.js';
import { DEFAULT_HEAD_PORTS, type ClusterSpec, type HeadPorts } from '../spec/schema.js';
import { readClusterRecord, type ClusterPorts } from './cluster-record.js';
import { clusterPaths, clusterStateDir, clustersUpHere } from './state-dir.js';

const PORT_FIELDS = ['gcsPort', 'dashboardPort', 'clientPort', 'servePort'] as const;

/** Docker offsets tried, in steps that keep the published ports readable (6479, 8365 …), before giving up. */
const OFFSET_STEP = 100;
const MAX_OFFSET_TRIES = 50;

export interface PortCheck {
  isFree(port: number): Promise<boolean>;
  freePort(): Promise<number>;
  /** The ports other rayfleet clusters on this machine were given, listening yet or not. */
  claimed(exceptCluster: string): Promise<number[]>;
}

const machinePorts: PortCheck = { isFree: isPortFree, freePort: findFreePort, claimed: portsOfOtherClusters };

/**
 * A port free now may still be another cluster's: its head's Ray client server, for one, binds a moment after the head
 * joined (found by a test that brought two clusters up one after the other, the second given the first's 10001).
 */
async function portsOfOtherClusters(exceptCluster: string): Promise<number[]> {
  const others = (await clustersUpHere()).filter((name) => name !== exceptCluster);
  const records = await Promise.all(others.map((name) => readClusterRecord(clusterPaths(clusterStateDir(name)).clusterFile).catch(() => undefined)));
  return records.flatMap((record) => (record === undefined ? [] : PORT_FIELDS.map((field) => record.ports[field] + record.ports.portOffset)));
}

/**
 * By the backend's port policy: where nodes share this machine, every unset port is chosen on its own; a head with a
 * network of its own keeps its ports and moves its published ones by one offset; a head with a machine of its own has the defaults.
 */
export async function chooseClusterPorts(spec: ClusterSpec, check: PortCheck = machinePorts): Promise<ClusterPorts> {
  const { head } = spec;
  const policy = backendOf(spec.provider).portPolicy;
  if (policy.kind === 'free-on-this-machine') {
    const chosen: Partial<HeadPorts> = {};
    // Unset ports keep clear of each other and of the ports other clusters here were given.
    const taken = new Set(await check.claimed(spec.name));
    for (const field of PORT_FIELDS) {
      const declared = head[field];
      if (declared !== undefined) {
        if (!(await check.isFree(declared))) throw portInUse(declared, `head.${field}`);
        chosen[field] = declared;
      } else {
        const fallback = DEFAULT_HEAD_PORTS[field];
        chosen[field] = !taken.has(fallback) && (await check.isFree(fallback)) ? fallback : await findFreePortOutside(taken, check.freePort);
      }
      taken.add(chosen[field]);
    }
    return { ...(chosen as HeadPorts), portOffset: 0 };
  }
  const ports = { ...DEFAULT_HEAD_PORTS, ...definedPorts(head) };
  if (policy.kind === 'head-machine-own') return { ...ports, portOffset: 0 };
  const published = (offset: number) => PORT_FIELDS.map((field) => ports[field] + offset);
  if (policy.offset !== undefined) {
    for (const [index, port] of published(policy.offset).entries()) {
      if (!(await check.isFree(port))) throw portInUse(port, `provider.portOffset (${policy.offset}) + head.${PORT_FIELDS[index] ?? ''}`);
    }
    return { ...ports, portOffset: policy.offset };
  }
  for (let attempt = 0; attempt < MAX_OFFSET_TRIES; attempt += 1) {
    const offset = attempt * OFFSET_STEP;
    if ((await Promise.all(published(offset).map((port) => check.isFree(port)))).every(Boolean)) return { ...ports, portOffset: offset };
  }
  throw new RayfleetError('PORT_IN_USE', `no free offset for the head's published ports (tried 0 to ${(MAX_OFFSET_TRIES - 1) * OFFSET_STEP})`, {
    details: 'Set provider.portOffset in rayfleet.yaml to an offset whose ports are free.',
  });
}

/** The spec's head with the chosen ports: what providers and endpoints are built from. */
export function headPortsOf(ports: ClusterPorts): HeadPorts {
  return { gcsPort: ports.gcsPort, dashboardPort: ports.dashboardPort, clientPort: ports.clientPort, servePort: ports.servePort };
}

function definedPorts(head: Partial<HeadPorts>): Partial<HeadPorts> {
  return Object.fromEntries(PORT_FIELDS.filter((field) => head[field] !== undefined).map((field) => [field, head[field]]));
}

function portInUse(port: number, field: string): RayfleetError {
  return new RayfleetError('PORT_IN_USE', `port ${port} (${field}) is already in use on this machine`, {
    details: `Another process listens on ${port}. Stop it, or leave ${field} out of rayfleet.yaml so rayfleet picks a free port.`,
  });
}
