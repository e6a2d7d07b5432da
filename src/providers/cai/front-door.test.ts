// The head application's front door as CaiProvider reaches it through the emulator's ingress: the modes, auto's probe,
// and the three undocumented ways a workspace refuses a public head. The door here is a stand-in that answers as the
// launcher's does without a credential (its own 401, marked); tests/cai-front-door.e2e.test.ts goes through the real one.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rayfleetErrorOf } from '../../../test/support/caught.js';
import { PYTHON_RUNTIME, TEST_API_KEY, emulatedWorkspace, type EmulatedWorkspace } from '../../../test/cml-emulator/workspace-fixture.js';
import type { FrontDoorMode } from '../../spec/schema.js';
import type { LaunchRequest } from '../node-provider.js';
import { CaiProvider } from './cai-provider.js';
import { LAUNCHER_SCRIPT } from './project-layout.js';

const CLUSTER = 'fd';
const STAND_IN_DOOR = `import http.server, json, os
class Door(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"code": "UNAUTHORIZED"}).encode()
        self.send_response(401); self.send_header("x-rayfleet-door", "1"); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *_):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["CDSW_APP_PORT"])), Door).serve_forever()
`;

let workspace: EmulatedWorkspace;

function provider(frontDoor: FrontDoorMode, insideCml = false): CaiProvider {
  return new CaiProvider({
    client: workspace.client(),
    projectId: workspace.projectId,
    cluster: CLUSTER,
    runtimeIdentifier: PYTHON_RUNTIME,
    groupRuntimes: {},
    head: { gcsPort: 6379, dashboardPort: 8265, clientPort: 10001, servePort: 8000 },
    watcherNodeFlags: undefined,
    workspaceUrl: workspace.emulator.workspaceUrl,
    apiKey: TEST_API_KEY,
    ingress: workspace.emulator.ingressAddress,
    frontDoor,
    insideCml,
    deleteTimeoutMs: 10_000,
  });
}

function node(name: string): LaunchRequest {
  const head = name.endsWith('-head');
  return {
    name,
    role: head ? 'head' : 'worker',
    group: head ? 'head' : 'worker',
    index: head ? 0 : 1,
    resources: { cpus: 1, gpus: 0, custom: {} },
    env: { RAY_CLOUD_INSTANCE_ID: name, RAY_NODE_TYPE_NAME: head ? 'head' : 'worker' },
  };
}

const bypassOf = (name: string): unknown => [...workspace.emulator.store.applications.values()].find((application) => application.name === name)?.fields.bypass_authentication;

beforeAll(async () => {
  workspace = await emulatedWorkspace();
  await workspace.client().uploadFile(workspace.projectId, LAUNCHER_SCRIPT, STAND_IN_DOOR);
});

afterEach(async () => {
  workspace.emulator.setIngress({ acceptsApiKey: true, allowUnauthenticatedApps: false, refusedBypass: 'reject', unauthenticated: 'login-redirect' });
  for (const name of [`${CLUSTER}-head`, `${CLUSTER}-worker-1`]) await provider('off').terminate(name);
});

afterAll(async () => {
  await workspace.close();
});

describe('a public head application', () => {
  it('is the only public application, where the administrator allows it, and its door answers a request without a login', async () => {
    workspace.emulator.setIngress({ allowUnauthenticatedApps: true, acceptsApiKey: false });
    const publicDoor = provider('public');
    await publicDoor.launch(node(`${CLUSTER}-head`));
    await publicDoor.launch(node(`${CLUSTER}-worker-1`));
    expect([bypassOf(`${CLUSTER}-head`), bypassOf(`${CLUSTER}-worker-1`)]).toEqual([true, false]);
    const access = await publicDoor.frontDoorAccess();
    expect(access?.headers).toEqual({});
    expect(access?.credentialHeader).toBe('x-ray-authorization');
  });

  it.each([
    ['reject', /the API refused bypass_authentication: true \(.*not allowed/],
    ['store-false', /the API stored bypass_authentication: false/],
    ['store-true-ignored', /it stored bypass_authentication: true, but its ingress still answers a request without a login with 302, a redirect to http:\/\/127\.0\.0\.1:\d+\/login$/],
  ] as const)('fails `up` where the workspace refuses it by %s, saying what the administrator must allow', async (refusedBypass, how) => {
    workspace.emulator.setIngress({ allowUnauthenticatedApps: false, refusedBypass });
    const error = await rayfleetErrorOf(() => provider('public').launch(node(`${CLUSTER}-head`)));
    expect(error.code).toBe('CAI_FAILED');
    expect(error.message).toMatch(/^the workspace did not make the head application of fd public: /);
    expect(error.message).toMatch(how);
    expect(error.details).toContain("Allow applications to be configured with unauthenticated access");
  });
});

describe('auto', () => {
  it('goes through with the API key where the ingress takes it, and never sends the key where it needs none', async () => {
    await provider('auto').launch(node(`${CLUSTER}-head`));
    await provider('auto').launch(node(`${CLUSTER}-worker-1`));
    expect([bypassOf(`${CLUSTER}-head`), bypassOf(`${CLUSTER}-worker-1`)]).toEqual([false, false]);
    const access = await waitForDoor(provider('auto'));
    expect(access.describe).toBe('head application (CML API key)');
    expect(access.headers).toEqual({ authorization: `Bearer ${TEST_API_KEY}` });
    expect(access.rayDashboardUrl).toMatch(/^http:\/\/fd-head-[0-9a-f]{6}\.localhost:\d+\/ray$/);
  });

  it.each(['login-redirect', '401'] as const)('names both ways, and what each needs, where the ingress answers %s to the key and the head is not public', async (unauthenticated) => {
    await provider('auto').launch(node(`${CLUSTER}-head`));
    workspace.emulator.setIngress({ acceptsApiKey: false, unauthenticated });
    const error = await rayfleetErrorOf(() => provider('auto').frontDoorAccess());
    expect(error.code).toBe('RAY_UNREACHABLE');
    expect(error.message).toMatch(unauthenticated === '401' ? /answered 401 with an HTML page with the CML API key/ : /answered 302, a redirect to http:\/\/127\.0\.0\.1:\d+\/login with the CML API key/);
    expect(error.details).toContain('provider.frontDoor: api-key needs');
    expect(error.details).toContain('provider.frontDoor: public needs an administrator to allow unauthenticated applications');
    expect(`${error.message}${error.details ?? ''}`).not.toContain(TEST_API_KEY);
  });

  it('is the pod address inside CML\'s network, and with the door off', async () => {
    expect(await provider('auto', true).frontDoorAccess()).toBeUndefined();
    expect(await provider('off').frontDoorAccess()).toBeUndefined();
  });
});

/** The stand-in's application turns RUNNING once it listens; until then the ingress answers 502 and auto asks again. */
async function waitForDoor(door: CaiProvider): Promise<NonNullable<Awaited<ReturnType<CaiProvider['frontDoorAccess']>>>> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const access = await door.frontDoorAccess();
      if (access !== undefined) return access;
    } catch (error) {
      if (attempt > 100) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
