// How a command outside CML's network goes through the head application's door: each mode's access, `auto`'s probe, and what an ingress's refusal says.
import { RayfleetError, messageOf } from '../../errors.js';
import { httpRequest, type HttpAnswer } from '../../net/http-request.js';
import type { FrontDoorMode } from '../../spec/schema.js';
import type { FrontDoorAccess } from '../node-provider.js';

/** Every answer of the launcher's door carries it (launchers/ray_launcher.py): an answer without it came from the ingress. */
export const DOOR_HEADER = 'x-rayfleet-door';
/** The cluster's credential, `Bearer <Ray token>`: Ray 2.60's header for proxies, so `Authorization` stays the ingress's. */
export const CREDENTIAL_HEADER = 'x-ray-authorization';
/** A door path that only ever answers JSON (the page shell is HTML too, as a login page is). */
export const DOOR_PROBE_PATH = '/rayfleet/door';
/**
 * An assumption: Ray's own cap on an uploaded package. A workspace's ingress may take less (ingress-nginx's default is
 * 1 MiB); `provider.frontDoorBodyLimit` says so, and an ingress's 413 names the setting.
 */
export const DEFAULT_DOOR_BODY_LIMIT_BYTES = 100 * 2 ** 20;
const PROBE_TIMEOUT_MS = 15_000;

export interface DoorSettings {
  mode: Exclude<FrontDoorMode, 'off'>;
  cluster: string;
  /** The head application's URL. */
  url: string;
  apiKey: string;
  connectTo: string | undefined;
  maxBodyBytes: number;
}

const ADMIN_SETTING = "Admin › Security › 'Allow applications to be configured with unauthenticated access'";

/** What each way needs, for the error that says none worked and for an ingress's refusal in a chosen mode. */
export function waysAdvice(cluster: string): string {
  return [
    `Two ways reach the head of ${cluster} from outside CML's network:`,
    "- provider.frontDoor: api-key needs a workspace whose ingress lets the CML API key (Authorization: Bearer) through to an application;",
    `- provider.frontDoor: public needs an administrator to allow unauthenticated applications (${ADMIN_SETTING}), then \`rayfleet restart -c ${cluster}\` makes the head application public (its door still asks for the cluster's credential).`,
    'Or run the command inside the project: a session, job or application reaches the head at its pod address.',
  ].join('\n');
}

/** The access of a mode that is known to work (or chosen): with the key for the ingress, or with nothing but the cluster's credential. */
function accessWith(settings: DoorSettings, withKey: boolean): FrontDoorAccess {
  const { url, cluster } = settings;
  return {
    describe: withKey ? 'head application (CML API key)' : 'head application (public)',
    headers: withKey ? { authorization: `Bearer ${settings.apiKey}` } : {},
    credentialHeader: CREDENTIAL_HEADER,
    rayDashboardUrl: `${url}/ray`,
    rayfleetUrl: url,
    serveUrl: `${url}/serve`,
    connectTo: settings.connectTo,
    maxBodyBytes: settings.maxBodyBytes,
    secrets: [settings.apiKey],
    answeredByDoor,
    refusedAdvice: `rayfleet went through the head application ${withKey ? 'with the CML API key' : 'without a login (provider.frontDoor: public)'}, and the workspace's ingress answered instead of the door.\n${waysAdvice(cluster)}`,
  };
}

export function answeredByDoor(headers: Record<string, string | string[] | undefined>): boolean {
  return headers[DOOR_HEADER] !== undefined;
}

/** How an answer that did not come from the door reads, for messages: a redirect (without its query), a page, a status. */
export function ingressAnswer(answer: Pick<HttpAnswer, 'status' | 'headers' | 'text'>): string {
  const location = answer.headers.location;
  if (answer.status >= 300 && answer.status < 400 && typeof location === 'string') return `${answer.status}, a redirect to ${location.split('?')[0]}`;
  const type = String(answer.headers['content-type'] ?? '');
  return type.includes('html') ? `${answer.status} with an HTML page` : `${answer.status}`;
}

/**
 * The access for the mode; `auto` asks the door's probe path, with the key, then without it, and takes the first the
 * door itself answers. The probe carries no cluster credential: the door's own 401 proves the way.
 */
export async function frontDoorAccess(settings: DoorSettings, signal?: AbortSignal): Promise<FrontDoorAccess> {
  if (settings.mode === 'api-key') return accessWith(settings, true);
  if (settings.mode === 'public') return accessWith(settings, false);
  const withKey = await probeDoor(settings, true, signal);
  if (answeredByDoor(withKey.headers)) return accessWith(settings, true);
  // An ingress with nothing behind it yet says nothing of either way: asked again by the next command, not concluded.
  if (withKey.status >= 500) {
    throw new RayfleetError('RAY_UNREACHABLE', `the head application of ${settings.cluster} does not serve yet (its ingress answered ${withKey.status})`, {
      details: `It does once Ray is up in it; \`rayfleet status -c ${settings.cluster}\` shows whether its application is running.`,
    });
  }
  const withoutKey = await probeDoor(settings, false, signal);
  if (answeredByDoor(withoutKey.headers)) return accessWith(settings, false);
  throw new RayfleetError(
    'RAY_UNREACHABLE',
    `cannot reach the head of ${settings.cluster} through its application ${settings.url}: the workspace's ingress answered ${ingressAnswer(withKey)} with the CML API key, and ${ingressAnswer(withoutKey)} without it`,
    { details: waysAdvice(settings.cluster) },
  );
}

/** One GET of the door's probe path; no answer at all is RAY_UNREACHABLE. */
export async function probeDoor(settings: Pick<DoorSettings, 'url' | 'apiKey' | 'connectTo' | 'cluster'>, withKey: boolean, signal?: AbortSignal): Promise<HttpAnswer> {
  const timeout = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  try {
    return await httpRequest(`${settings.url}${DOOR_PROBE_PATH}`, {
      method: 'GET',
      headers: { accept: 'application/json', ...(withKey ? { authorization: `Bearer ${settings.apiKey}` } : {}) },
      connectTo: settings.connectTo,
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
    });
  } catch (error) {
    if (signal?.aborted === true) throw signal.reason;
    const why = timeout.aborted ? `no answer within ${PROBE_TIMEOUT_MS} ms` : messageOf((error as Error).cause ?? error);
    throw new RayfleetError('RAY_UNREACHABLE', `cannot reach the head application of ${settings.cluster} at ${settings.url}: ${why}`, {
      cause: error,
      details: 'Check that the workspace is reachable from here (RAYFLEET_CAI_INGRESS names where its applications are, when their names do not resolve).',
    });
  }
}

/** What `up` says when the workspace did not make the head public: which of the three ways it refused, and what the administrator must allow. */
export function publicRefused(cluster: string, how: string, cause?: unknown): RayfleetError {
  return new RayfleetError('CAI_FAILED', `the workspace did not make the head application of ${cluster} public: ${how}`, {
    cause,
    details: `provider.frontDoor: public needs an administrator to allow unauthenticated applications (${ADMIN_SETTING}). Until then, use provider.frontDoor: api-key where the ingress takes the API key, or run commands inside the project.`,
  });
}
