import { describe, expect, it } from 'vitest';
import { clusterSpecSchema } from '../spec/schema.js';
import { chooseClusterPorts, type PortCheck } from './cluster-ports.js';

/** A machine where every port is free but those listed, the kernel handing out `ephemeral` in turn. */
function machine(options: { listening?: number[]; claimed?: number[]; ephemeral: number[] }): PortCheck {
  const ephemeral = [...options.ephemeral];
  return {
    isFree: async (port) => !(options.listening ?? []).includes(port),
    freePort: async () => ephemeral.shift() ?? 1,
    claimed: async () => options.claimed ?? [],
  };
}

const localSpec = (head: object = {}) => clusterSpecSchema.parse({ name: 'rfq', head });

describe('chooseClusterPorts on local', () => {
  it('takes the old defaults where they are free', async () => {
    expect(await chooseClusterPorts(localSpec(), machine({ ephemeral: [] }))).toEqual({ gcsPort: 6379, dashboardPort: 8265, clientPort: 10001, servePort: 8000, portOffset: 0 });
  });

  it('keeps clear of a port another cluster here was given, although nothing listens on it yet', async () => {
    const ports = await chooseClusterPorts(localSpec(), machine({ claimed: [6379, 8265, 10001, 8000], ephemeral: [40001, 40002, 40003, 40004] }));
    expect(ports).toEqual({ gcsPort: 40001, dashboardPort: 40002, clientPort: 40003, servePort: 40004, portOffset: 0 });
  });

  it('never gives two fields one port, nor another cluster one, when the kernel hands the same port out again', async () => {
    const ports = await chooseClusterPorts(localSpec(), machine({ listening: [6379, 8265, 10001, 8000], claimed: [40002], ephemeral: [40001, 40001, 40002, 40003, 40003, 40004] }));
    expect(new Set([ports.gcsPort, ports.dashboardPort, ports.clientPort, ports.servePort]).size).toBe(4);
    expect(Object.values(ports)).not.toContain(40002);
  });

  it('refuses a set port that is taken, naming the field', async () => {
    await expect(chooseClusterPorts(localSpec({ clientPort: 10001 }), machine({ listening: [10001], ephemeral: [] }))).rejects.toThrow(/port 10001 \(head.clientPort\)/);
  });
});
