// The node launcher (launchers/ray_launcher.py) as a CML application of the emulator, with a stand-in venv: what Ray
// is given of the application's environment, and how the watcher beside it is kept running.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON_RUNTIME, TEST_API_KEY, emulatedWorkspace, type EmulatedWorkspace } from '../../../test/cml-emulator/workspace-fixture.js';
import { parseJournal } from '../../journal/journal.js';
import { findFreePort } from '../../net/ports.js';
import { pollUntil } from '../../wait/poll-until.js';
import { WATCHER_NODE_FLAGS } from '../../watcher/watcher-node-flags.js';
import type { CmlClient } from './cml/cml-client.js';
import { LAUNCHER_SCRIPT, PROJECT_HOME } from './project-layout.js';

const CLUSTER = 'rl';
const PROJECT_SECRET = 'db-password-31f7a9';
const DASHBOARD_TOKEN = 'dashboard-token-5c2e81d0';
/** The cluster's credential: its Ray token, in the file every node's RAY_AUTH_TOKEN_PATH names. */
const RAY_TOKEN = 'ray-token-9a41c7e2b3';

/** `ray start --block` as far as the launcher can tell: it records its environment, says Ray is up, and serves a dashboard that echoes. */
const FAKE_RAY = `#!/usr/bin/env python3
import http.server, json, os, signal, socket, sys, threading
with open(os.path.join(os.environ["HOME"], "ray-env.json"), "w") as out:
    json.dump(dict(os.environ), out)
# Whether the launcher (the parent) holds its application port already, as Ray starts.
launcher_env = open("/proc/%d/environ" % os.getppid(), "rb").read().split(b"\\0")
app_port = int(next(entry for entry in launcher_env if entry.startswith(b"CDSW_APP_PORT=")).split(b"=")[1])
with socket.socket() as probe:
    try:
        probe.bind(("127.0.0.1", app_port))
        held = "free"
    except OSError:
        held = "held"
with open(os.path.join(os.environ["HOME"], "app-port-at-ray-start.txt"), "w") as out:
    out.write(held)
port = int(next(arg for arg in sys.argv if arg.startswith("--dashboard-port=")).split("=")[1])
class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/moved":
            self.send_response(302); self.send_header("location", "/elsewhere"); self.send_header("content-length", "0"); self.end_headers(); return
        body = json.dumps({"ray": True, "path": self.path, "authorization": self.headers.get("authorization"),
                           "xRay": self.headers.get("x-ray-authorization"), "cookie": self.headers.get("cookie")}).encode()
        self.send_response(200); self.send_header("content-type", "application/json"); self.send_header("content-length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *_):
        pass
threading.Thread(target=http.server.ThreadingHTTPServer(("127.0.0.1", port), Echo).serve_forever, daemon=True).start()
print("Ray runtime started.", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.pause()
`;

/**
 * \`node rayfleet.mjs …\`. As a watcher it dies at once, every time: one line per start, saying whether it had the API key.
 * As the dashboard it does what the real one does for the launcher (a 0600 token and \`dashboard.json\` in its
 * RAYFLEET_HOME, a loopback port) and echoes what reached it; \`/api/v1/stream\` sends one event and never ends.
 */
const FAKE_NODE = `#!/usr/bin/env python3
import http.server, json, os, sys, time
home = os.environ.get("RAYFLEET_HOME", "")
if sys.argv[2:3] != ["dashboard"]:
    with open(os.path.join(os.environ["HOME"], "watcher-runs.txt"), "a") as out:
        out.write("key=%s home=%s node-flags=%s\\n" % (os.environ.get("CDSW_APIV2_KEY") == "${TEST_API_KEY}", home, " ".join(sys.argv[1:-4])))
    sys.exit(3)
os.makedirs(os.path.join(home, "dashboard"), exist_ok=True)
fd = os.open(os.path.join(home, "dashboard", "token"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, b"${DASHBOARD_TOKEN}\\n")
os.close(fd)
class Dashboard(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/api/v1/stream"):
            self.send_response(200); self.send_header("content-type", "text/event-stream"); self.end_headers()
            self.wfile.write(b"id: 1\\ndata: first\\n\\n"); self.wfile.flush()
            time.sleep(60)
            return
        seen = {"path": self.path, "host": self.headers.get("host"), "authorization": self.headers.get("authorization"),
                "xRay": self.headers.get("x-ray-authorization"), "cookie": self.headers.get("cookie"),
                "clusters": sorted(os.listdir(os.path.join(home, "clusters"))), "headAddress": os.environ.get("RAYFLEET_CAI_HEAD_ADDRESS")}
        body = json.dumps(seen).encode()
        self.send_response(200); self.send_header("content-type", "application/json"); self.send_header("content-length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *_):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Dashboard)
with open(os.path.join(home, "dashboard", "dashboard.json"), "w") as out:
    json.dump({"port": server.server_address[1], "pid": os.getpid()}, out)
server.serve_forever()
`;

let workspace: EmulatedWorkspace;
let client: CmlClient;
let projectId: string;
let projectDirectory: string;
let applicationId: string;
let front: string;
let gcsPort: number;
/** Serve's proxy as the door sees it: it echoes what reached it. */
let serveProxy: Server;
const journalPath = (): string => join(projectDirectory, PROJECT_HOME, 'clusters', CLUSTER, 'journal.jsonl');

beforeAll(async () => {
  workspace = await emulatedWorkspace();
  client = workspace.client();
  const project = await client.createProject({ name: 'launcher', environment: { DB_PASSWORD: PROJECT_SECRET, WANTED_BY_TASKS: 'yes' } });
  projectId = project.id;
  projectDirectory = workspace.emulator.store.projects.get(project.id)?.directory ?? '';
  await client.uploadFile(project.id, LAUNCHER_SCRIPT, readFileSync(new URL('../../../launchers/ray_launcher.py', import.meta.url)));
  const bin = join(projectDirectory, '.venv', 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'ray'), FAKE_RAY, { mode: 0o755 });
  writeFileSync(join(bin, 'node'), FAKE_NODE, { mode: 0o755 });
  writeFileSync(join(projectDirectory, '.rayfleet', 'rayfleet.mjs'), '');
  mkdirSync(join(projectDirectory, PROJECT_HOME, 'clusters', CLUSTER), { recursive: true });
  writeFileSync(join(projectDirectory, PROJECT_HOME, 'clusters', CLUSTER, 'cluster.json'), '{}');
  // A line another writer tore: the launcher's first event must not be glued onto it.
  writeFileSync(journalPath(), '{"v":1,"time":"2026-01-01T00:00:00.000Z","ty');
  writeFileSync(join(projectDirectory, PROJECT_HOME, 'clusters', CLUSTER, 'auth_token'), `${RAY_TOKEN}\n`, { mode: 0o600 });
  serveProxy = createHttpServer((request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ serve: true, path: request.url, authorization: request.headers.authorization ?? null }));
  });
  await new Promise<void>((resolve) => serveProxy.listen(0, '127.0.0.1', resolve));
  gcsPort = await findFreePort();
  const created = await client.createApplication(project.id, {
    name: `${CLUSTER}-head`,
    subdomain: `${CLUSTER}-head`,
    script: LAUNCHER_SCRIPT,
    runtime_identifier: PYTHON_RUNTIME,
    environment: {
      RAYFLEET_ROLE: 'head',
      RAYFLEET_CLUSTER: CLUSTER,
      RAYFLEET_NODE: `${CLUSTER}-head`,
      RAYFLEET_WATCHER: '1',
      RAYFLEET_WATCHER_RESTART_S: '0.1',
      RAYFLEET_WATCHER_NODE_FLAGS: WATCHER_NODE_FLAGS.join(' '),
      RAYFLEET_RAY_ENV: 'WANTED_BY_TASKS',
      RAY_CLOUD_INSTANCE_ID: `${CLUSTER}-head`,
      RAY_NODE_TYPE_NAME: 'head',
      RAY_AUTH_TOKEN_PATH: `${PROJECT_HOME}/clusters/${CLUSTER}/auth_token`,
      RAYFLEET_HEAD_PORTS: JSON.stringify({ gcsPort, dashboardPort: await findFreePort(), clientPort: await findFreePort(), servePort: (serveProxy.address() as AddressInfo).port }),
    },
  });
  applicationId = created.id;
  await pollUntil(async () => ((await client.getApplication(project.id, created.id)).status === 'APPLICATION_RUNNING' ? true : undefined), {
    timeoutMs: 15_000,
    intervalMs: 50,
    describe: () => `the launcher to serve (log: ${workspace.emulator.readLog(created.id)})`,
  });
  front = `http://127.0.0.1:${workspace.emulator.processOf(created.id)?.port ?? 0}`;
});

afterAll(async () => {
  await workspace.close();
  serveProxy.close();
});

describe('the launcher of a node application', () => {
  it("gives ray start an allow-list of the application's environment: no API key, no project secret", () => {
    const rayEnv = JSON.parse(readFileSync(join(projectDirectory, 'ray-env.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(rayEnv).filter((name) => name.startsWith('CDSW_'))).toEqual([]);
    expect(rayEnv.DB_PASSWORD).toBeUndefined();
    expect(JSON.stringify(rayEnv)).not.toContain(TEST_API_KEY);
    expect(JSON.stringify(rayEnv)).not.toContain(PROJECT_SECRET);
    // What the node needs is there: its identity, the token's absolute path, the venv first on PATH, and what the user let through.
    expect(rayEnv).toMatchObject({
      RAY_CLOUD_INSTANCE_ID: `${CLUSTER}-head`,
      RAY_NODE_TYPE_NAME: 'head',
      RAY_AUTH_TOKEN_PATH: join(projectDirectory, PROJECT_HOME, 'clusters', CLUSTER, 'auth_token'),
      HOME: projectDirectory,
      VIRTUAL_ENV: join(projectDirectory, '.venv'),
      WANTED_BY_TASKS: 'yes',
    });
    expect(rayEnv.PATH?.split(':')[0]).toBe(join(projectDirectory, '.venv', 'bin'));
  });

  it('holds its CDSW_APP_PORT from before Ray starts, so no process of Ray is handed it (where applications share a host)', () => {
    expect(readFileSync(join(projectDirectory, 'app-port-at-ray-start.txt'), 'utf8')).toBe('held');
  });

  it('starts the watcher again each time it exits, with the API key, doubling the delay, each restart journaled', async () => {
    const lines = await pollUntil(
      async () => {
        const text = readFileSync(journalPath(), 'utf8');
        return parseJournal(text).events.length >= 4 ? text.split('\n').slice(1, 5) : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 50, describe: () => `4 watcher restarts in ${journalPath()} (log: ${workspace.emulator.readLog(applicationId)})` },
    );
    // Each line is an event of the journal's own format, with the numbers of the restart beside it.
    const { events, skippedLines } = parseJournal(lines.join('\n'));
    expect(skippedLines).toEqual([]);
    expect(events.map((event) => [event.type, event.cluster, 'source' in event ? event.source : undefined])).toEqual(Array(4).fill(['watcher', CLUSTER, 'launcher']));
    const restarts = lines.map((line) => JSON.parse(line) as { exitCode: number; restarts: number; delayS: number; pid: number; reason: string; time: string });
    expect(restarts.map((restart) => [restart.exitCode, restart.restarts, restart.delayS])).toEqual([
      [3, 1, 0.1],
      [3, 2, 0.2],
      [3, 3, 0.4],
      [3, 4, 0.8],
    ]);
    expect(new Set(restarts.map((restart) => restart.pid)).size).toBe(4);
    expect(restarts[0]?.reason).toMatch(new RegExp(`^the watcher in ${CLUSTER}-head exited with code 3 after \\d+ s; starting it again in 0\\.1 s \\(restart 1\\)$`));
    expect(Date.parse(restarts[0]?.time ?? '')).toBeGreaterThan(Date.now() - 60_000);
    // The torn line stays one unreadable line of its own: the launcher's first event was not glued onto it.
    expect(parseJournal(readFileSync(journalPath(), 'utf8')).skippedLines).toEqual([1]);
    const runs = readFileSync(join(projectDirectory, 'watcher-runs.txt'), 'utf8').trim().split('\n');
    expect(runs.length).toBeGreaterThanOrEqual(4);
    // Node's flags before the bundle: `node <flags> rayfleet.mjs watch -c <cluster>`.
    expect(new Set(runs)).toEqual(new Set([`key=True home=${join(projectDirectory, PROJECT_HOME)} node-flags=${WATCHER_NODE_FLAGS.join(' ')}`]));
  });

  describe("the head's front door on CDSW_APP_PORT", () => {
    /** The cluster's credential where rayfleet sends it, beside what CML's ingress takes (the API key, a session cookie). */
    const withCredential = { 'x-ray-authorization': `Bearer ${RAY_TOKEN}`, authorization: `Bearer ${TEST_API_KEY}`, cookie: 'cml_session=abc' };
    /** What the dashboard saw of a request, once it serves (503 until then). */
    async function throughDoor(path: string, headers: Record<string, string> = withCredential): Promise<Record<string, unknown>> {
      return pollUntil(
        async () => {
          const answer = await fetch(`${front}${path}`, { headers });
          return answer.status === 503 ? undefined : ((await answer.json()) as Record<string, unknown>);
        },
        { timeoutMs: 15_000, intervalMs: 50, describe: () => `the dashboard behind ${front} (log: ${workspace.emulator.readLog(applicationId)})` },
      );
    }

    it("sends everything else to rayfleet's dashboard for this cluster, under the Host its guard accepts, with its token and none of the caller's credentials", async () => {
      const seen = await throughDoor('/api/v1/clusters/rl?x=1');
      expect(seen).toMatchObject({ path: '/api/v1/clusters/rl?x=1', authorization: `Bearer ${DASHBOARD_TOKEN}`, xRay: null, cookie: null, clusters: [CLUSTER], headAddress: `127.0.0.1:${gcsPort}` });
      expect(seen.host).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(seen.host).not.toBe(new URL(front).host);
      // The page sends the dashboard's own token: it opens the dashboard's API, and nothing else.
      expect(await throughDoor('/api/v1/clusters', { authorization: `Bearer ${DASHBOARD_TOKEN}` })).toMatchObject({ authorization: `Bearer ${DASHBOARD_TOKEN}` });
      expect((await fetch(`${front}/ray/api/version`, { headers: { authorization: `Bearer ${DASHBOARD_TOKEN}` } })).status).toBe(401);
      // The page's shell is public: it holds no data, and gets no token.
      expect(await throughDoor('/clusters/rl', {})).toMatchObject({ path: '/clusters/rl', authorization: null });
    });

    it('refuses every path but the shells without the cluster\'s credential, or with another, and says so as the door', async () => {
      await throughDoor('/');
      const refusals = [{}, { 'x-ray-authorization': 'Bearer not-the-token' }, { 'x-ray-authorization': RAY_TOKEN }, { authorization: `Bearer ${TEST_API_KEY}` }, { cookie: 'ray-authentication-token=nope' }];
      for (const path of ['/api/v1/clusters', '/ray/api/version', '/rayfleet/head-address', '/rayfleet/door', '/serve/hello']) {
        for (const headers of refusals as Array<Record<string, string>>) {
          const answer = await fetch(`${front}${path}`, { headers });
          expect([path, answer.status, answer.headers.get('x-rayfleet-door')]).toEqual([path, 401, '1']);
          expect(((await answer.json()) as { code: string }).code).toBe('UNAUTHORIZED');
        }
      }
      const probe = await fetch(`${front}/rayfleet/door`, { headers: withCredential });
      expect([probe.status, probe.headers.get('content-type'), await probe.json()]).toEqual([200, 'application/json', { door: 'rayfleet', cluster: CLUSTER, node: `${CLUSTER}-head` }]);
      expect(await (await fetch(`${front}/rayfleet/head-address`, { headers: withCredential })).text()).toBe(`127.0.0.1:${gcsPort}`);
    });

    it("sends /ray/ to Ray's dashboard with the prefix taken off and Ray's token instead of the caller's credentials, and its redirects back under it", async () => {
      expect(await (await fetch(`${front}/ray/api/version?q=1`, { headers: withCredential })).json()).toEqual({ ray: true, path: '/api/version?q=1', authorization: `Bearer ${RAY_TOKEN}`, xRay: null, cookie: null });
      // Ray's own login cookie opens it too (a browser on Ray's page), and goes no further.
      expect(await (await fetch(`${front}/ray/api/version`, { headers: { cookie: `a=b; ray-authentication-token=${RAY_TOKEN}` } })).json()).toMatchObject({ authorization: `Bearer ${RAY_TOKEN}`, cookie: null });
      // Ray's page loads before its login, without a token.
      expect(await (await fetch(`${front}/ray/`)).json()).toEqual({ ray: true, path: '/', authorization: null, xRay: null, cookie: null });
      const bare = await fetch(`${front}/ray`, { redirect: 'manual' });
      expect([bare.status, bare.headers.get('location')]).toEqual([308, '/ray/']);
      const moved = await fetch(`${front}/ray/moved`, { headers: withCredential, redirect: 'manual' });
      expect([moved.status, moved.headers.get('location')]).toEqual([302, '/ray/elsewhere']);
    });

    it("sends /serve/ to Serve's proxy with the prefix taken off, without any credential", async () => {
      expect(await (await fetch(`${front}/serve/hello?name=x`, { headers: withCredential })).json()).toEqual({ serve: true, path: '/hello?name=x', authorization: null });
      expect(await (await fetch(`${front}/serve`, { headers: withCredential })).json()).toEqual({ serve: true, path: '/', authorization: null });
    });

    it('streams an answer that never ends: the first event arrives while the answer goes on', async () => {
      await throughDoor('/');
      const controller = new AbortController();
      const answer = await fetch(`${front}/api/v1/stream`, { headers: withCredential, signal: controller.signal });
      expect([answer.status, answer.headers.get('content-type')]).toEqual([200, 'text/event-stream']);
      const reader = (answer.body as ReadableStream<Uint8Array>).getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toBe('id: 1\ndata: first\n\n');
      controller.abort();
      // The door's own path answers all the while.
      expect(await (await fetch(`${front}/rayfleet/door`, { headers: withCredential })).json()).toMatchObject({ node: `${CLUSTER}-head` });
    });
  });

  it("refuses a head port that is the application's own CDSW_APP_PORT, and starts no Ray", async () => {
    // The launcher holds its own port from the start, so only this check can tell; run as CML would, without the emulator.
    const appPort = await findFreePort();
    const launched = await execa('python3', [join(projectDirectory, LAUNCHER_SCRIPT)], {
      reject: false,
      timeout: 15_000,
      env: {
        HOME: projectDirectory,
        CDSW_APP_PORT: String(appPort),
        RAYFLEET_ROLE: 'head',
        RAYFLEET_CLUSTER: 'own-port',
        RAYFLEET_NODE: 'own-port-head',
        RAYFLEET_HEAD_PORTS: JSON.stringify({ gcsPort: await findFreePort(), dashboardPort: await findFreePort(), clientPort: appPort }),
      },
    });
    expect(launched.exitCode).toBe(2);
    expect(launched.stdout).toContain(`error: port ${appPort} (Ray client, head.clientPort) is this application's own port (CDSW_APP_PORT)`);
    expect(launched.stdout).not.toContain('starting head');
  });

  it("fails at once, naming the port, when another process holds one of the head's ports, and starts no Ray", async () => {
    // Where applications share a host, a port chosen free can be taken before the head binds it; Ray's GCS then
    // cannot listen and `ray start --head` waits minutes for it.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as AddressInfo).port;
    try {
      const created = await client.createApplication(projectId, {
        name: 'taken-head',
        subdomain: 'taken-head',
        script: LAUNCHER_SCRIPT,
        runtime_identifier: PYTHON_RUNTIME,
        environment: {
          RAYFLEET_ROLE: 'head',
          RAYFLEET_CLUSTER: 'taken',
          RAYFLEET_NODE: 'taken-head',
          RAYFLEET_HEAD_PORTS: JSON.stringify({ gcsPort: await findFreePort(), dashboardPort: taken, clientPort: await findFreePort() }),
        },
      });
      await pollUntil(async () => ((await client.getApplication(projectId, created.id)).status === 'APPLICATION_FAILED' ? true : undefined), {
        timeoutMs: 15_000,
        intervalMs: 50,
        describe: () => `the launcher to fail (log: ${workspace.emulator.readLog(created.id)})`,
      });
      const log = workspace.emulator.readLog(created.id);
      expect(log).toContain(`error: port ${taken} (Ray dashboard, head.dashboardPort) is already in use on this host`);
      expect(log).not.toContain('starting head');
    } finally {
      holder.close();
    }
  });
});
