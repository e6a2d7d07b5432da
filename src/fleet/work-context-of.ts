// A cluster's jobs and Serve context: its head's endpoints, token and journal, as a fleet has them.
import type { ClusterHandle } from './cluster-handle.js';
import type { ServeContext } from './work-context.js';

export function workContextOf(cluster: () => ClusterHandle, requireUp: () => Promise<void>): ServeContext {
  const endpoints = async (signal?: AbortSignal) => {
    await requireUp();
    return cluster().connection.endpoints(signal);
  };
  return {
    cluster: cluster().name,
    providerType: cluster().spec.provider.type,
    dashboardUrl: async (signal) => (await endpoints(signal)).dashboardUrl,
    serveUrl: async (signal) => (await endpoints(signal)).serveUrl,
    servePort: async (signal) => (await endpoints(signal)).ports.servePort,
    authToken: async () => {
      await requireUp();
      return cluster().connection.authToken();
    },
    record: (event) => cluster().record(event),
  };
}
