// The Cloudera AI backend: a CML application per node, each head in a pod of its own, reached at the address it publishes.
import { RayfleetError } from '../../errors.js';
import { readEnv } from '../../environment.js';
import type { FrontDoorMode, ProviderSpec } from '../../spec/schema.js';
import type { Backend } from '../backend.js';
import { CAI_LAUNCH_TIMEOUT_MS, CaiProvider } from './cai-provider.js';
import { connectToCml } from './cml/cml-connection.js';

export interface CaiProviderSettings {
  host?: string | undefined;
  projectId?: string | undefined;
  runtimeIdentifier?: string | undefined;
  venv?: string | undefined;
  frontDoor?: FrontDoorMode | undefined;
  frontDoorBodyLimit?: number | undefined;
}

/** The spec's Cloudera AI settings, when its provider is Cloudera AI: for the backend's own commands (`rayfleet cai …`). */
export function caiSettingsOf(provider: ProviderSpec): CaiProviderSettings | undefined {
  return provider.type === 'cai' ? provider : undefined;
}

/** An assumption: a CML application is scheduled, its pod started, then `ray start` runs, which the emulator cannot time. */
const SIMULATION = {
  launch: { kind: 'lognormal', medianMs: 90_000, p95Ms: 240_000 },
  terminate: { kind: 'lognormal', medianMs: 10_000, p95Ms: 30_000 },
  startsInProvider: true,
  launchTimeoutMs: CAI_LAUNCH_TIMEOUT_MS,
  quotaCode: 'CAI_QUOTA',
  source: "an assumption: a CML application's pod scheduled and started, then ray start",
} as const;

export function caiBackend(provider: CaiProviderSettings): Backend {
  return {
    portPolicy: { kind: 'head-machine-own' },
    stateDir: undefined,
    runsRayHere: false,
    driverConnection: 'ray-client',
    // A pod binds every interface, so the pod address reaches the proxy.
    serveHost: '0.0.0.0',
    unreachableHeadAdvice:
      "The head's pod address is reached inside CML's network only: run this command in a session, job or application of the project, or reach the head through its application from here (provider.frontDoor: auto, api-key or public; not off).",
    simulation: SIMULATION,
    createProvider: ({ spec, head, clusterFile, watcherNodeFlags }) => {
      const { client, projectId, workspaceUrl, apiKey } = connectToCml(process.env, provider);
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
        watcherNodeFlags: spec.watcher.enabled ? watcherNodeFlags : undefined,
        knownHeadAddress: readEnv('RAYFLEET_CAI_HEAD_ADDRESS'),
        clusterRecordPath: clusterFile,
        workspaceUrl,
        frontDoor: provider.frontDoor,
        apiKey,
        ingress: readEnv('RAYFLEET_CAI_INGRESS'),
        frontDoorBodyLimit: provider.frontDoorBodyLimit,
        insideCml: readEnv('CDSW_ENGINE_ID') !== undefined,
      });
    },
  };
}
