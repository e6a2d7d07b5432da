// The head application as a user reaches it from outside: its URL on the workspace's ingress, and its dashboard's token.
import { RayfleetError } from '../../errors.js';
import { headName } from '../node-names.js';
import { subdomainFor } from './application-spec.js';
import type { CmlClient } from './cml/cml-client.js';
import { headDashboardTokenFile } from './project-layout.js';

/** https://<subdomain>.<workspace domain>, where CML serves the head's CDSW_APP_PORT. */
export function headApplicationUrl(cluster: string, projectId: string, workspaceUrl: string): string {
  const workspace = new URL(workspaceUrl);
  return `${workspace.protocol}//${subdomainFor(headName(cluster), projectId)}.${workspace.host}`;
}

/** The token of the dashboard in the head, read from the project through the API (the head writes it there, 0600). */
export async function readHeadDashboardToken(client: CmlClient, projectId: string, cluster: string, signal?: AbortSignal): Promise<string> {
  const path = headDashboardTokenFile(cluster);
  const token = (await client.readTextFile(projectId, path, signal))?.trim();
  if (token === undefined || token === '') {
    throw new RayfleetError('CAI_NOT_FOUND', `no dashboard token in project ${projectId} at ${path}`, {
      details: `The head application of cluster ${cluster} writes it once its dashboard has started: is the cluster up (\`rayfleet status -c ${cluster}\`)?`,
    });
  }
  return token;
}
