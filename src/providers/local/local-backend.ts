// The local backend: every node a process on this machine, so ports are chosen among this machine's free ones.
import type { Backend } from '../backend.js';
import { LocalProvider } from './local-provider.js';

/**
 * Launch and stop latency as measured on the development machine (2 cores shared with other work, load average about
 * 12; 5 rounds of a worker's `ray start --block` to alive in the GCS: 15.1, 16.8, 16.8, 20.1, 24.0 s; SIGTERM to its
 * process group gone: 16.1–17.0 s, the measurement's SIGKILL after 15 s ending each, where LocalProvider waits up to 30 s).
 */
const SIMULATION = {
  launch: { kind: 'lognormal', medianMs: 16_800, p95Ms: 24_000 },
  terminate: { kind: 'lognormal', medianMs: 16_400, p95Ms: 17_000 },
  startsInProvider: false,
  quotaCode: 'PROVIDER_FAILED',
  source: 'measured on a loaded 2-core machine (5 rounds of ray start --block to alive in the GCS, SIGTERM to gone)',
} as const;

export function localBackend(provider: { stateDir?: string | undefined }): Backend {
  return {
    portPolicy: { kind: 'free-on-this-machine' },
    stateDir: provider.stateDir,
    runsRayHere: true,
    driverConnection: 'gcs',
    // One host: only the head runs a proxy, on the cluster's serve port (every node's would bind the same port).
    serveHost: '127.0.0.1',
    unreachableHeadAdvice: undefined,
    simulation: SIMULATION,
    createProvider: ({ stateDir, rayCommand, head, rayTempDir }) => new LocalProvider({ stateDir, rayCommand, head, tempDir: rayTempDir }),
  };
}
