// An engine in memory for the docker provider's unit tests: containers and networks by name, and every call it was asked.
import { DockerEngine } from '../../src/providers/docker/docker-engine.js';
import type { ContainerCreateBody, ContainerInspect, ContainerSummary, NetworkInspect, NetworkIpamConfig } from '../../src/providers/docker/docker-types.js';

export interface StandInContainer {
  cluster?: string;
  role?: 'head' | 'worker';
  /** running | exited | created | paused | dead … */
  status: string;
  exitCode?: number;
  /** Seconds before now it was created. */
  ageSeconds?: number;
}

export class DockerEngineStandIn extends DockerEngine {
  /** What was asked, in order: `start <id>`, `remove <id>`, `create <name>`, `network create <name>`, `network remove <name>`. */
  readonly calls: string[] = [];
  readonly containers = new Map<string, ContainerInspect>();
  readonly networks = new Map<string, NetworkInspect>();
  /** The subnets (and gateways) the engine gives networks made without one, in turn; the last one again once they run out. */
  offered: NetworkIpamConfig[] = [{ Subnet: '172.18.0.0/16', Gateway: '172.18.0.1' }];
  /** Subnets another network took: making one on them answers `pool-taken`. */
  readonly poolsTaken = new Set<string>();
  /** What the next start throws. */
  startFailure: Error | undefined;

  constructor() {
    // Nothing listens there: a call this stand-in does not answer fails loudly.
    super({ kind: 'unix', socketPath: '/nonexistent/docker.sock' });
  }

  addContainer(name: string, container: StandInContainer): ContainerInspect {
    const inspected: ContainerInspect = {
      Id: `${name}-id`,
      Name: `/${name}`,
      Created: new Date(Date.now() - (container.ageSeconds ?? 60) * 1000).toISOString(),
      State: { Status: container.status, Running: container.status === 'running', ExitCode: container.exitCode ?? 0 },
      Config: { Labels: { 'rayfleet.cluster': container.cluster ?? 'ray', 'rayfleet.role': container.role ?? 'head', 'rayfleet.group': 'head', 'rayfleet.index': '0' }, Image: 'ray:test' },
      NetworkSettings: { Networks: {} },
    };
    this.containers.set(name, inspected);
    return inspected;
  }

  addNetwork(name: string, labels: Record<string, string>): void {
    this.networks.set(name, { Id: `${name}-id`, Name: name, Labels: labels });
  }

  override async inspectContainer(id: string): Promise<ContainerInspect | undefined> {
    return this.find(id);
  }

  override async listContainers(labels: string[]): Promise<ContainerSummary[]> {
    return [...this.containers.values()]
      .filter((container) => labels.every((label) => `rayfleet.cluster=${container.Config.Labels?.['rayfleet.cluster']}` === label))
      .map((container) => ({
        Id: container.Id,
        Names: [container.Name],
        Image: '',
        Created: Date.parse(container.Created) / 1000,
        State: container.State.Status,
        Status: container.State.Status === 'exited' ? `Exited (${container.State.ExitCode})` : container.State.Status,
        Labels: container.Config.Labels ?? {},
        NetworkSettings: container.NetworkSettings,
      }));
  }

  override async createContainer(name: string, body: ContainerCreateBody): Promise<{ id: string } | 'conflict' | 'no-image'> {
    this.calls.push(`create ${name}`);
    if (this.containers.has(name)) return 'conflict';
    const created = this.addContainer(name, { status: 'created', ageSeconds: 0 });
    created.Config.Labels = body.Labels;
    const [network, endpoint] = Object.entries(body.NetworkingConfig.EndpointsConfig)[0] ?? [];
    if (network !== undefined) created.NetworkSettings.Networks = { [network]: { IPAddress: endpoint?.IPAMConfig?.IPv4Address ?? '' } };
    return { id: created.Id };
  }

  override async startContainer(id: string): Promise<void> {
    this.calls.push(`start ${id}`);
    const failure = this.startFailure;
    this.startFailure = undefined;
    if (failure !== undefined) throw failure;
    const container = this.find(id);
    if (container === undefined) throw new Error(`no container ${id}`);
    container.State = { Status: 'running', Running: true, ExitCode: 0 };
  }

  override async removeContainer(id: string): Promise<void> {
    this.calls.push(`remove ${id}`);
    const container = this.find(id);
    if (container !== undefined) this.containers.delete(container.Name.slice(1));
  }

  override async inspectNetwork(name: string): Promise<NetworkInspect | undefined> {
    return this.networks.get(name);
  }

  override async createNetwork(name: string, labels: Record<string, string>, ipam: NetworkIpamConfig | undefined): Promise<'created' | 'name-taken' | 'pool-taken'> {
    this.calls.push(`network create ${name}${ipam === undefined ? '' : ` ${JSON.stringify(ipam)}`}`);
    if (this.networks.has(name)) return 'name-taken';
    if (ipam?.Subnet !== undefined && this.poolsTaken.has(ipam.Subnet)) return 'pool-taken';
    const config = ipam ?? (this.offered.length > 1 ? this.offered.shift() : this.offered[0]);
    this.networks.set(name, { Id: `${name}-id`, Name: name, Labels: labels, IPAM: { Config: config === undefined ? [] : [config] } });
    return 'created';
  }

  override async removeNetwork(name: string): Promise<boolean> {
    this.calls.push(`network remove ${name}`);
    return this.networks.delete(name);
  }

  private find(idOrName: string): ContainerInspect | undefined {
    return this.containers.get(idOrName) ?? [...this.containers.values()].find((container) => container.Id === idOrName);
  }
}
