// The cluster's network: a bridge on a subnet the engine chooses, with one address kept for the head, so a head restarted in place comes back on it.
import { randomUUID } from 'node:crypto';
import { RayfleetError } from '../../errors.js';
import { LABELS } from './container-spec.js';
import type { DockerEngine } from './docker-engine.js';
import type { NetworkIpamConfig } from './docker-types.js';

/** The address the head holds on a network rayfleet made, and how containers are kept off it. */
export interface HeadAddressLayout {
  /** Where the engine gives containers their addresses: the subnet's upper half. */
  ipRange: string;
  /** The head's own address, in the lower half, outside that range: no worker started while the head is down can take it. */
  headAddress: string;
}

/** Tries of probe and create, each lost only when another network took the probed subnet between the two. */
const ATTEMPTS = 5;

/**
 * The head's address and the range left to other containers in a subnet (IPv4 CIDR): the range is the upper half, the
 * head the lowest address of the lower half that is neither the network's own nor the gateway.
 */
export function headAddressLayout(subnet: string, gateway: string | undefined): HeadAddressLayout {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(subnet);
  const prefix = Number(match?.[2]);
  if (match?.[1] === undefined || !(prefix >= 8 && prefix <= 29)) {
    throw new RayfleetError('DOCKER_FAILED', `cannot keep an address for the head in subnet ${subnet}: rayfleet needs an IPv4 subnet from /8 to /29`);
  }
  const size = 2 ** (32 - prefix);
  const base = Math.floor(ipv4ToNumber(match[1]) / size) * size;
  const head = gateway === numberToIpv4(base + 1) ? base + 2 : base + 1;
  return { ipRange: `${numberToIpv4(base + size / 2)}/${prefix + 1}`, headAddress: numberToIpv4(head) };
}

/**
 * Makes the cluster's network unless it exists, and returns the head's kept address (undefined on a network made
 * elsewhere or by an older rayfleet, which keeps none). The engine pins an address only on a subnet given at creation, so
 * a probe network learns which subnet the engine would choose (free of its other networks and of this host's routes),
 * and the cluster's network is made on that one.
 */
export async function ensureClusterNetwork(engine: DockerEngine, name: string, cluster: string, signal: AbortSignal | undefined): Promise<string | undefined> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const existing = await engine.inspectNetwork(name, signal);
    if (existing !== undefined) return existing.Labels?.[LABELS.headAddress];
    const ipam = await probeSubnet(engine, name, cluster, signal);
    const layout = headAddressLayout(ipam.Subnet, ipam.Gateway);
    const created = await engine.createNetwork(
      name,
      { [LABELS.cluster]: cluster, [LABELS.headAddress]: layout.headAddress },
      { ...ipam, IPRange: layout.ipRange },
      signal,
    );
    if (created === 'created') return layout.headAddress;
    // 'name-taken': another launcher made it meanwhile, read on the next turn; 'pool-taken': probe again.
  }
  throw new RayfleetError('DOCKER_FAILED', `could not make network ${name}: the subnet the engine offered was taken ${ATTEMPTS} times in a row`);
}

/** The IPv4 subnet and gateway the engine gives a new network now, read from a network made and removed for it. */
async function probeSubnet(engine: DockerEngine, name: string, cluster: string, signal: AbortSignal | undefined): Promise<NetworkIpamConfig & { Subnet: string }> {
  const probe = `${name}-probe-${randomUUID().slice(0, 8)}`;
  await engine.createNetwork(probe, { [LABELS.cluster]: cluster }, undefined, signal);
  try {
    const inspected = await engine.inspectNetwork(probe, signal);
    const ipv4 = inspected?.IPAM?.Config?.find((config) => config.Subnet !== undefined && !config.Subnet.includes(':'));
    if (ipv4?.Subnet === undefined) throw new RayfleetError('DOCKER_FAILED', `the engine gave network ${probe} no IPv4 subnet`);
    return { Subnet: ipv4.Subnet, ...(ipv4.Gateway === undefined ? {} : { Gateway: ipv4.Gateway }) };
  } finally {
    await engine.removeNetwork(probe);
  }
}

function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((value, part) => value * 256 + Number(part), 0);
}

function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}
