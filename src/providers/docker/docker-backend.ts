// The Docker backend: a container per node on a network of the cluster's, the head's ports published here with one offset.
import path from 'node:path';
import type { Backend } from '../backend.js';
import { DockerEngine } from './docker-engine.js';
import { DockerProvider } from './docker-provider.js';

export interface DockerProviderSettings {
  image?: string | undefined;
  network?: string | undefined;
  portOffset?: number | undefined;
  workspace?: string | undefined;
  logsDir?: string | undefined;
}

export function defaultDockerImage(rayVersion: string): string {
  return `rayproject/ray:${rayVersion}`;
}

/** The old toolkit's network was `ray-cluster`: the default cluster `ray` keeps that name. */
export function defaultDockerNetwork(cluster: string): string {
  return `${cluster}-cluster`;
}

/** An assumption, not a measurement: the local times plus a container's start. */
const SIMULATION = {
  launch: { kind: 'lognormal', medianMs: 19_000, p95Ms: 27_000 },
  terminate: { kind: 'lognormal', medianMs: 12_000, p95Ms: 20_000 },
  startsInProvider: false,
  quotaCode: 'PROVIDER_FAILED',
  source: "an assumption: the local times plus a container's start",
} as const;

export function dockerBackend(provider: DockerProviderSettings): Backend {
  return {
    portPolicy: { kind: 'published-with-offset', offset: provider.portOffset },
    stateDir: undefined,
    runsRayHere: false,
    driverConnection: 'ray-client',
    // A container binds every interface, so the published port reaches the proxy.
    serveHost: '0.0.0.0',
    unreachableHeadAdvice: undefined,
    simulation: SIMULATION,
    createProvider: ({ spec, head, portOffset, onProgress }) =>
      new DockerProvider({
        engine: new DockerEngine(),
        cluster: spec.name,
        image: provider.image ?? defaultDockerImage(spec.ray.version),
        network: provider.network ?? defaultDockerNetwork(spec.name),
        head,
        portOffset,
        headFaultTolerance: spec.head.faultTolerance === true,
        workspace: provider.workspace === undefined ? undefined : path.resolve(provider.workspace),
        rayLogsDir: provider.logsDir === undefined ? undefined : path.resolve(provider.logsDir),
        onProgress,
      }),
  };
}
