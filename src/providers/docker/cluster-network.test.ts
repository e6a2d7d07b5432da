import { describe, expect, it } from 'vitest';
import { DockerEngineStandIn } from '../../../test/support/docker-engine-stand-in.js';
import { thrownBy } from '../../../test/support/caught.js';
import { ensureClusterNetwork, headAddressLayout } from './cluster-network.js';

describe('headAddressLayout', () => {
  it.each([
    ['172.18.0.0/16', '172.18.0.1', '172.18.128.0/17', '172.18.0.2'],
    ['192.168.32.0/20', '192.168.32.1', '192.168.40.0/21', '192.168.32.2'],
    ['10.1.2.0/24', '10.1.2.254', '10.1.2.128/25', '10.1.2.1'],
    ['10.1.2.0/24', undefined, '10.1.2.128/25', '10.1.2.1'],
    ['10.1.2.8/29', '10.1.2.9', '10.1.2.12/30', '10.1.2.10'],
    // Host bits in the subnet are the network's own.
    ['172.18.5.7/16', '172.18.0.1', '172.18.128.0/17', '172.18.0.2'],
  ])('%s (gateway %s): others from %s, the head at %s', (subnet, gateway, ipRange, headAddress) => {
    expect(headAddressLayout(subnet, gateway)).toEqual({ ipRange, headAddress });
  });

  it('refuses a subnet too small to keep an address apart, or not IPv4', () => {
    for (const subnet of ['10.1.2.0/30', 'fd00::/64', '10.1.2.0']) expect(thrownBy(() => headAddressLayout(subnet, undefined))).toMatchObject({ code: 'DOCKER_FAILED' });
  });
});

describe('ensureClusterNetwork', () => {
  it("makes the network on the subnet the engine offered a probe, the head's address kept out of the containers' range and named in a label", async () => {
    const engine = new DockerEngineStandIn();
    expect(await ensureClusterNetwork(engine, 'ray-cluster', 'ray', undefined)).toBe('172.18.0.2');
    const probe = /^network create (ray-cluster-probe-\w+)$/.exec(engine.calls[0] ?? '')?.[1];
    expect(engine.calls).toEqual([
      `network create ${probe}`,
      `network remove ${probe}`,
      'network create ray-cluster {"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1","IPRange":"172.18.128.0/17"}',
    ]);
    expect(engine.networks.get('ray-cluster')?.Labels).toEqual({ 'rayfleet.cluster': 'ray', 'rayfleet.head-address': '172.18.0.2' });
    expect([...engine.networks.keys()]).toEqual(['ray-cluster']);
  });

  it('probes again when another network took the offered subnet between the probe and the create', async () => {
    const engine = new DockerEngineStandIn();
    engine.offered = [{ Subnet: '172.18.0.0/16', Gateway: '172.18.0.1' }, { Subnet: '172.19.0.0/16', Gateway: '172.19.0.1' }];
    engine.poolsTaken.add('172.18.0.0/16');
    expect(await ensureClusterNetwork(engine, 'ray-cluster', 'ray', undefined)).toBe('172.19.0.2');
    expect(engine.calls.filter((call) => call.startsWith('network create ray-cluster '))).toHaveLength(2);
  });

  it("uses a network that exists: its kept address, or none on one made elsewhere; one made meanwhile by another launcher is read", async () => {
    const engine = new DockerEngineStandIn();
    engine.addNetwork('ours', { 'rayfleet.cluster': 'ray', 'rayfleet.head-address': '172.20.0.2' });
    engine.addNetwork('theirs', {});
    expect(await ensureClusterNetwork(engine, 'ours', 'ray', undefined)).toBe('172.20.0.2');
    expect(await ensureClusterNetwork(engine, 'theirs', 'ray', undefined)).toBeUndefined();
    expect(engine.calls).toEqual([]);

    const racing = new DockerEngineStandIn();
    const create = racing.createNetwork.bind(racing);
    racing.createNetwork = async (name, labels, ipam) => {
      // Another launcher's network of the same name lands between this one's probe and its create.
      if (name === 'ray-cluster') racing.addNetwork(name, { 'rayfleet.cluster': 'ray', 'rayfleet.head-address': '172.18.0.2' });
      return create(name, labels, ipam);
    };
    expect(await ensureClusterNetwork(racing, 'ray-cluster', 'ray', undefined)).toBe('172.18.0.2');
  });
});
