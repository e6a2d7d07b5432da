// The backend a spec names, built with what it needs from the cluster's state.
import path from 'node:path';
import { DockerEngine } from '../providers/docker/docker-engine.js';
import { DockerProvider } from '../providers/docker/docker-provider.js';
import { LocalProvider } from '../providers/local/local-provider.js';
import type { NodeProvider } from '../providers/node-provider.js';
import type { ClusterSpec } from '../spec/schema.js';
import { RayfleetError } from '../errors.js';
import { CaiProvider } from '../providers/cai/cai-provider.js';
import { connectToCml } from '../providers/cai/cml-connection.js';
import { readEnv } from '../environment.js';
import type { ClusterPorts } from './cluster-record.js';
import { headPortsOf } from './cluster-ports.js';
import type { ClusterPaths } from './state-dir.js';

export interface ProviderContext {
  spec: ClusterSpec;
  /** The head's ports, as chosen at `up`. */
  ports: ClusterPorts;
  paths: ClusterPaths;
  /** The `ray` command of the local runtime; asked for only by backends that run Ray on this machine. */
  rayCommand: () => Promise<string>;
  onProgress: (line: string) => void;
}

export function defaultDockerImage(rayVersion: string): string {
  return `rayproject/ray:${rayVersion}`;
}

/** The old toolkit's network was `ray-cluster`: the default cluster `ray` keeps that name. */
export function defaultDockerNetwork(cluster: string): string {
  return `${cluster}-cluster`;
}

export function createProvider({ spec, ports, paths, rayCommand, onProgress }: ProviderContext): NodeProvider {
  const { provider } = spec;
  const head = headPortsOf(ports);
  switch (provider.type) {
    case 'local':
      return new LocalProvider({ stateDir: paths.root, rayCommand, head, tempDir: paths.rayTempDir });
    case 'docker':
      return new DockerProvider({
        engine: new DockerEngine(),
        cluster: spec.name,
        image: provider.image ?? defaultDockerImage(spec.ray.version),
        network: provider.network ?? defaultDockerNetwork(spec.name),
        head,
        portOffset: ports.portOffset,
        workspace: provider.workspace === undefined ? undefined : path.resolve(provider.workspace),
        rayLogsDir: provider.logsDir === undefined ? undefined : path.resolve(provider.logsDir),
        onProgress,
      });
    case 'cai': {
      const { client, projectId } = connectToCml(process.env, provider);
      if (projectId === undefined) {
        throw new RayfleetError('USAGE', 'no CML project: set provider.projectId in rayfleet.yaml, or CML_PROJECT_ID', {
          details: '`rayfleet cai setup` creates or finds the project and prints its id.',
        });
      }
      return new CaiProvider({
        client,
        projectId,
        cluster: spec.name,
        runtimeIdentifier: provider.runtimeIdentifier,
        groupRuntimes: Object.fromEntries(spec.workerGroups.map((group) => [group.name, group.runtimeIdentifier])),
        head,
        venv: provider.venv,
        watcher: spec.watcher.enabled,
        knownHeadAddress: readEnv('RAYFLEET_CAI_HEAD_ADDRESS'),
        clusterRecordPath: paths.clusterFile,
      });
    }
  }
}
