// The Docker Engine API's shapes, as far as rayfleet reads and writes them (API 1.40+ field names).

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  /** Unix seconds. */
  Created: number;
  /** created | restarting | running | removing | paused | exited | dead */
  State: string;
  /** The human text, e.g. "Exited (137) 5 seconds ago": the list's only place for the exit code. */
  Status: string;
  Labels: Record<string, string>;
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> };
}

export interface ContainerInspect {
  Id: string;
  Name: string;
  Created: string;
  State: { Status: string; Running: boolean; ExitCode: number; Error?: string };
  Config: { Labels: Record<string, string> | null; Image?: string };
  NetworkSettings: { Networks?: Record<string, { IPAddress?: string }> };
}

/** One subnet of a network; IPRange is where the engine picks containers' addresses when it is narrower than the subnet. */
export interface NetworkIpamConfig {
  Subnet?: string;
  Gateway?: string;
  IPRange?: string;
}

export interface NetworkInspect {
  Id: string;
  Name: string;
  Labels?: Record<string, string>;
  IPAM?: { Config?: NetworkIpamConfig[] | null };
  Containers?: Record<string, { Name: string }>;
}

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

export interface ContainerCreateBody {
  Image: string;
  Cmd: string[];
  Env: string[];
  Labels: Record<string, string>;
  Hostname: string;
  WorkingDir?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  HostConfig: {
    Init: boolean;
    NetworkMode: string;
    ShmSize?: number;
    NanoCpus?: number;
    Memory?: number;
    Binds?: string[];
    PortBindings?: Record<string, PortBinding[]>;
    DeviceRequests?: Array<{ Driver: string; Count: number; Capabilities: string[][] }>;
  };
  /** IPAMConfig pins the container's address, which the engine then asks for again at every start. */
  NetworkingConfig: { EndpointsConfig: Record<string, { Aliases: string[]; IPAMConfig?: { IPv4Address: string } }> };
}
