#!/usr/bin/env python3
"""A Ray node in a Cloudera AI application, as rayfleet starts it (uploaded by `rayfleet cai setup`).

CML runs only scripts, and keeps an application RUNNING only while it answers HTTP on CDSW_APP_PORT. This
launcher checks the venv the setup job built, starts `ray start --block` from it, and serves a small endpoint
once Ray is up: the head publishes its pod address there and in the project filesystem, for the workers.
Standard library only: it runs under the runtime's own Python, before any venv is trusted.

Environment (set by rayfleet on the application):
  RAYFLEET_ROLE           head | worker
  RAYFLEET_CLUSTER        the cluster's name
  RAYFLEET_NODE           this node's name (also RAY_CLOUD_INSTANCE_ID)
  RAYFLEET_VENV           the venv with Ray (default $HOME/.venv)
  RAYFLEET_RAY_ARGS       JSON list: the node's resources as `ray start` flags
  RAYFLEET_HEAD_PORTS     JSON {gcsPort, dashboardPort, clientPort} (head)
  RAY_HEAD_ADDRESS        host:port of the head's GCS (worker; else read from the head's published address)
  RAYFLEET_HEAD_WAIT_S    how long a worker waits for that address (default 600)
  RAYFLEET_WATCHER        "1": the head runs the rayfleet watcher beside Ray (Node from the venv)
  RAY_AUTH_TOKEN_PATH     the cluster's token file; relative paths are under $HOME
  RAYFLEET_RAY_ENV        names of more application variables Ray's processes may see, comma-separated (e.g. WANDB_API_KEY)
  RAYFLEET_WATCHER_NODE_FLAGS  Node's flags for the watcher (set by rayfleet: its heap's sizes)
  RAYFLEET_WATCHER_RESTART_S  the first delay before the watcher (or the dashboard) is started again after it exits
                          (default 1, at least 0.1; doubles up to 300)

The head's CDSW_APP_PORT is the cluster's front door (https://<subdomain>.<workspace domain>): `/rayfleet/*` is this
launcher's own (the door's probe, head address), `/ray/*` is Ray's dashboard with the prefix stripped, `/serve/*` Ray
Serve's proxy, and everything else is rayfleet's dashboard for this cluster (`node rayfleet.mjs dashboard`, supervised
like the watcher), streamed through. Every path but the page shells (rayfleet's, and Ray's page and its static files)
needs the cluster's credential, its Ray token, as `Bearer <token>` in X-Ray-Authorization (Authorization belongs to
CML's ingress, which may take the API key there), or in Ray's own `ray-authentication-token` cookie or in Authorization
(a browser after Ray's login); rayfleet's dashboard API also takes its own token in Authorization (its page sends it).
Authorization, cookies and X-Ray-Authorization never go further: the door adds Ray's token toward Ray and the dashboard's
toward the dashboard itself. Every answer of the door carries `x-rayfleet-door: 1`, so a client tells it from the ingress's.
The dashboard's RAYFLEET_HOME is .rayfleet/clusters/<name>/control-plane (its cluster linked in), so its token is
.rayfleet/clusters/<name>/control-plane/dashboard/token (0600), which `rayfleet dashboard --token -c <name>` reads.

Ray's processes (and so every task, actor and job driver) get an allow-list of this environment, not all of it: the
application's environment holds CDSW_APIV2_KEY and whatever the project sets. That is hygiene, not a boundary: a task
runs as the same user as this launcher and can still read /proc/<pid>/environ of it and of the watcher.
"""
import hashlib
import hmac
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

READY_MARK = "Ray runtime started"
POLL_S = 0.5
# What `ray start` inherits from the application: what Ray, Python, CUDA and the network need. Everything else (the
# API key, a project's secrets) stays out, unless RAYFLEET_RAY_ENV names it.
RAY_ENV_NAMES = {
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "HOSTNAME", "TERM", "TZ", "LANG", "LANGUAGE", "TMPDIR",
    "PYTHONPATH", "LD_LIBRARY_PATH", "CUDA_HOME", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
}
# RAY_*: Ray's own settings and the node's identity (RAY_CLOUD_INSTANCE_ID, RAY_NODE_TYPE_NAME, RAY_AUTH_TOKEN_PATH).
RAY_ENV_PREFIXES = ("RAY_", "LC_")
WATCHER_RESTART_MAX_S = 300.0
# Headers that belong to one hop, not to the answer: the proxy sends its own.
HOP_HEADERS = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding", "upgrade"}
# Paths of the dashboard's page shell: public, holding no data (the dashboard's own request guard has the same list).
SHELL_PATHS = ("/clusters/", "/assets/")
# Ray's page and what it loads before its login (its own middleware lets these through too): no data either.
RAY_SHELL_PATHS = ("/ray/", "/ray/favicon.ico", "/ray/api/authentication_mode")
# Credentials that stop at the door: the ingress's, the cluster's, a browser's cookies (CML's session among them).
CREDENTIAL_HEADERS = {"authorization", "cookie", "x-ray-authorization"}
DOOR_HEADER = ("x-rayfleet-door", "1")
RAY_COOKIE = "ray-authentication-token"
STREAM_CHUNK = 65536
# The node's log in the project, where `rayfleet logs` reads it (CML's API serves no application logs).
_log_file = None


def emit(line):
    sys.stdout.write(line)
    sys.stdout.flush()
    if _log_file is not None:
        _log_file.write(line)
        _log_file.flush()


def log(message):
    emit(f"[rayfleet-launcher] {message}\n")


def fail(message, code=2):
    log(f"error: {message}")
    sys.exit(code)


def free_port(avoid=()):
    """A port free now and not in `avoid`: a head's ports are free too until its Ray binds them."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in avoid:
            return port


def ensure_head_ports_free(ports, app_port):
    """Fails, naming the port, when one of the head's ports is this application's own or another process holds it.
    Ray 2.60 does not say so: its GCS cannot bind, and `ray start --head` takes 40 s to report that the GCS failed
    (measured), with a Ray bug report's wording. A pod of its own holds only this launcher; where applications share a
    host (and its ports), as in the CML emulator, any process may hold one."""
    # Named as `rayfleet up` names a local head's ports it finds taken.
    for field, purpose in (("gcsPort", "Ray GCS"), ("dashboardPort", "Ray dashboard"), ("clientPort", "Ray client")):
        port = ports[field]
        if port == app_port:
            fail(f"port {port} ({purpose}, head.{field}) is this application's own port (CDSW_APP_PORT), where it answers CML:"
                 " give the head another in the spec")
        with socket.socket() as probe:
            # As Ray's servers bind (SO_REUSEADDR): a port an earlier server's connections left in TIME_WAIT is free to both.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("", port))
            except OSError as error:
                fail(f"port {port} ({purpose}, head.{field}) is already in use on this host ({error.strerror}): the head's Ray"
                     " could not listen on it. Free it, or give the head another in the spec")


def read_secret(path):
    try:
        with open(path) as source:
            return source.read().strip() or None
    except OSError:
        return None


def bearer_of(header):
    header = (header or "").strip()
    return header[len("bearer "):].strip() if header.lower().startswith("bearer ") else ""


def matches_any(offered, secret):
    """Whether any offered token is the secret, each compared in constant time."""
    if not secret:
        return False
    expected = secret.encode()
    return any([hmac.compare_digest(token.encode(), expected) for token in offered])


def write_atomically(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    draft = f"{path}.{os.getpid()}.tmp"
    with open(draft, "w") as out:
        out.write(text)
    os.replace(draft, path)


def ray_environment(env):
    """The part of `env` Ray's processes may see: the allow-list, plus the names RAYFLEET_RAY_ENV adds."""
    extra = {name.strip() for name in env.get("RAYFLEET_RAY_ENV", "").split(",") if name.strip()}
    return {name: value for name, value in env.items() if name in RAY_ENV_NAMES or name in extra or name.startswith(RAY_ENV_PREFIXES)}


def iso_now():
    """The journal's time format, as JavaScript's toISOString writes it."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def append_event(path, event):
    """One journal line in one O_APPEND write; a line another writer tore is ended by a newline in that same write."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
        os.write(fd, (("\n" if torn else "") + json.dumps(event) + "\n").encode())
    finally:
        os.close(fd)


def wait_for_head_address(path, deadline_s):
    """The head writes its address once its GCS is up; a worker polls for it, up to a deadline."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            with open(path) as source:
                address = source.read().strip()
            if address:
                return address
        except FileNotFoundError:
            pass
        time.sleep(POLL_S)
    fail(f"the head did not publish its address in {path} within {deadline_s} s")


class Node:
    def __init__(self):
        self.role = os.environ.get("RAYFLEET_ROLE", "worker")
        self.cluster = os.environ.get("RAYFLEET_CLUSTER", "ray")
        self.name = os.environ.get("RAYFLEET_NODE") or os.environ.get("RAY_CLOUD_INSTANCE_ID", "node")
        self.home = os.environ.get("HOME", "/home/cdsw")
        self.venv = os.environ.get("RAYFLEET_VENV") or os.path.join(self.home, ".venv")
        self.state = os.path.join(self.home, ".rayfleet", "clusters", self.cluster)
        # RAYFLEET_HOME of the watcher inside the cluster, and so where its journal is.
        self.rayfleet_home = os.path.join(self.home, ".rayfleet", "home")
        self.ip = os.environ.get("CDSW_IP_ADDRESS", "127.0.0.1")
        self.app_port = int(os.environ.get("CDSW_APP_PORT", "8080"))
        self.head_ports = json.loads(os.environ.get("RAYFLEET_HEAD_PORTS") or '{"gcsPort": 6379, "dashboardPort": 8265, "clientPort": 10001}')
        # RAYFLEET_HOME of the head's dashboard: its own lock and token, and only this cluster in it (linked).
        self.control_home = os.path.join(self.state, "control-plane")
        self.ray = None
        self.watcher = None
        self.dashboard = None
        self.dashboard_port_of = {}
        self.address = None
        # Set once the node goes down: the watcher is not started again. Reentrant, as stop() also runs as a signal handler.
        self.stopping = threading.Event()
        self.lock = threading.RLock()

    def ray_command(self):
        ray = os.path.join(self.venv, "bin", "ray")
        if not os.access(ray, os.X_OK):
            fail(f"no Ray in the venv {self.venv}: run `rayfleet cai setup`, whose job builds it")
        # Per-node temp dir and free agent/worker ports: harmless in a pod of its own, needed where pods share a host.
        tag = hashlib.sha256(self.name.encode()).hexdigest()[:6]
        head_ports = set(self.head_ports.values()) if self.role == "head" else set()
        args = [ray, "start", "--block", "--disable-usage-stats", f"--node-ip-address={self.ip}", f"--temp-dir=/tmp/rf-{tag}",
                f"--dashboard-agent-listen-port={free_port(head_ports)}", "--min-worker-port=0", "--max-worker-port=0"]
        args += json.loads(os.environ.get("RAYFLEET_RAY_ARGS") or "[]")
        if self.role == "head":
            ports = self.head_ports
            ensure_head_ports_free(ports, self.app_port)
            args += ["--head", f"--port={ports['gcsPort']}", "--dashboard-host=0.0.0.0", f"--dashboard-port={ports['dashboardPort']}",
                     f"--ray-client-server-port={ports['clientPort']}"]
            self.address = f"{self.ip}:{ports['gcsPort']}"
        else:
            self.address = os.environ.get("RAY_HEAD_ADDRESS") or wait_for_head_address(
                os.path.join(self.state, "head-address"), float(os.environ.get("RAYFLEET_HEAD_WAIT_S", "600")))
            args.append(f"--address={self.address}")
        return args

    def with_venv(self, env):
        token = env.get("RAY_AUTH_TOKEN_PATH")
        if token and not os.path.isabs(token):
            env["RAY_AUTH_TOKEN_PATH"] = os.path.join(self.home, token)
        env.setdefault("RAY_CLOUD_INSTANCE_ID", self.name)
        # Ray's output reaches the log line by line, not when a pipe buffer fills.
        env["PYTHONUNBUFFERED"] = "1"
        # Ray's workers and job drivers (`python …` entrypoints) run the venv's Python, the one with Ray.
        env["PATH"] = os.path.join(self.venv, "bin") + os.pathsep + env.get("PATH", "")
        env["VIRTUAL_ENV"] = self.venv
        return env

    def ray_env(self):
        return self.with_venv(ray_environment(os.environ))

    def start_ray(self):
        """Starts Ray and returns once it says it is up; exits with Ray's code if it ends first."""
        command = self.ray_command()
        log(f"starting {self.role} {self.name}: {' '.join(command)}")
        self.ray = subprocess.Popen(command, env=self.ray_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        ready = threading.Event()

        def relay():
            for line in self.ray.stdout:
                emit(line)
                if READY_MARK in line:
                    ready.set()

        threading.Thread(target=relay, daemon=True).start()
        while not ready.wait(POLL_S):
            if self.ray.poll() is not None:
                fail(f"ray start exited with {self.ray.returncode} before Ray was up", self.ray.returncode or 1)
        log(f"Ray is up on {self.ip}")

    def publish(self):
        if self.role == "head":
            write_atomically(os.path.join(self.state, "head-address"), self.address)
            log(f"published the head address {self.address}")

    def rayfleet_command(self, what):
        """`node rayfleet.mjs` from the venv, once setup and `up` have put it and the cluster's record in the project."""
        node = os.path.join(self.venv, "bin", "node")
        bundle = os.path.join(self.home, ".rayfleet", "rayfleet.mjs")
        record = os.path.join(self.rayfleet_home, "clusters", self.cluster, "cluster.json")
        missing = [path for path in (node, bundle, record) if not os.path.exists(path)]
        if missing:
            log(f"no {what}: missing {', '.join(missing)} (run `rayfleet cai setup`, then `rayfleet up`)")
            return None
        return [node, bundle]

    def rayfleet_env(self, home):
        # rayfleet talks to the CML API, so it has the whole environment (CDSW_APIV2_KEY with it), unlike Ray.
        env = self.with_venv(dict(os.environ))
        env["RAYFLEET_HOME"] = home
        env["RAYFLEET_CAI_HEAD_ADDRESS"] = self.address
        return env

    def start_watcher(self):
        """The watcher runs where the GCS is reachable: here, with rayfleet's single-file build and the venv's Node."""
        if self.role != "head" or os.environ.get("RAYFLEET_WATCHER") != "1":
            return
        command = self.rayfleet_command("watcher")
        if command is None:
            return
        env = self.rayfleet_env(self.rayfleet_home)
        # Node's own flags for the watcher (its heap's sizes), as rayfleet gave them in the application's environment.
        node, bundle = command
        command = [node, *os.environ.get("RAYFLEET_WATCHER_NODE_FLAGS", "").split(), bundle, "watch", "-c", self.cluster]
        threading.Thread(target=self.supervise, args=("watcher", command, env), daemon=True).start()

    def start_dashboard(self):
        """rayfleet's dashboard for this cluster, on a free loopback port; the front door on CDSW_APP_PORT streams to it."""
        if self.role != "head":
            return
        command = self.rayfleet_command("dashboard")
        if command is None:
            return
        # Its home holds this cluster only: the dashboard lists what is under clusters/, and its head address is this one.
        clusters = os.path.join(self.control_home, "clusters")
        os.makedirs(clusters, exist_ok=True)
        link = os.path.join(clusters, self.cluster)
        target = os.path.join(self.rayfleet_home, "clusters", self.cluster)
        if not (os.path.islink(link) and os.readlink(link) == target):
            if os.path.lexists(link):
                os.remove(link)
            os.symlink(target, link)
        env = self.rayfleet_env(self.control_home)
        threading.Thread(target=self.supervise, args=("dashboard", command + ["dashboard", "--host", "127.0.0.1", "--port", "0"], env), daemon=True).start()

    def dashboard_port(self):
        """The port the running dashboard serves on, from the record it writes once it listens (its pid must be ours)."""
        process = self.dashboard
        if process is None or process.poll() is not None:
            return None
        if process.pid not in self.dashboard_port_of:
            try:
                with open(os.path.join(self.control_home, "dashboard", "dashboard.json")) as source:
                    listening = json.load(source)
            except (OSError, ValueError):
                return None
            if listening.get("pid") != process.pid:
                return None
            self.dashboard_port_of = {process.pid: int(listening["port"])}
        return self.dashboard_port_of[process.pid]

    def dashboard_token(self):
        return read_secret(os.path.join(self.control_home, "dashboard", "token"))

    def ray_token(self):
        """The cluster's credential: Ray's token, the file every node of the cluster is given."""
        path = os.environ.get("RAY_AUTH_TOKEN_PATH")
        return read_secret(path if os.path.isabs(path) else os.path.join(self.home, path)) if path else None

    def supervise(self, what, command, env):
        """Keeps the watcher (or the dashboard) running: each time it exits it is started again, after a delay that doubles up to 5 min."""
        try:
            # Never below 0.1 s: a delay of 0 would double to 0 and restart a failing process in a busy loop.
            first_delay = max(0.1, float(os.environ.get("RAYFLEET_WATCHER_RESTART_S", "1")))
        except ValueError:
            log(f"RAYFLEET_WATCHER_RESTART_S={os.environ['RAYFLEET_WATCHER_RESTART_S']!r} is not a number of seconds: using 1")
            first_delay = 1.0
        delay = first_delay
        restarts = 0
        log_path = os.path.join(self.state, f"{what}.log")
        journal = os.path.join(self.rayfleet_home, "clusters", self.cluster, "journal.jsonl")
        while True:
            with self.lock:
                if self.stopping.is_set():
                    return
                with open(log_path, "a") as out:
                    process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
                setattr(self, what, process)
                started = time.monotonic()
            log(f"{what} started (pid {process.pid}), log {log_path}")
            code = process.wait()
            if self.stopping.is_set():
                return
            ran_s = time.monotonic() - started
            # One that ran a good while failed afresh: its back-off starts again from the first delay.
            if ran_s >= WATCHER_RESTART_MAX_S:
                delay = first_delay
            restarts += 1
            ended = f"signal {-code}" if code < 0 else f"code {code}"
            reason = f"the {what} in {self.name} exited with {ended} after {ran_s:.0f} s; starting it again in {delay:g} s (restart {restarts})"
            log(reason)
            # The journal has a kind for the watcher's restarts; the dashboard's are in the node's log. Its fields are those
            # src/journal/event.ts declares for `watcher` (src/providers/cai/launcher-journal.test.ts fails on any other).
            if what == "watcher":
                try:
                    append_event(journal, {"v": 1, "time": iso_now(), "type": "watcher", "cluster": self.cluster, "reason": reason, "source": "launcher",
                                           "pid": process.pid, "exitCode": code, "restarts": restarts, "delayS": delay})
                except OSError as error:
                    log(f"cannot journal the restart in {journal}: {error}")
            if self.stopping.wait(delay):
                return
            delay = min(delay * 2, WATCHER_RESTART_MAX_S)

    def app_server(self):
        """The server on CDSW_APP_PORT, bound at once but not listening yet: CML counts the application RUNNING once it
        listens (after Ray is up), and meanwhile no process Ray starts can be handed the port for one of its own (where
        applications share a host, the port is only known free when CML chose it)."""
        node = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self, status, body, kind="application/json", headers=()):
                self.send_response(status)
                self.send_header(*DOOR_HEADER)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def handle_any(self):
                path = self.path
                bare = path.split("?")[0]
                if node.role != "head":
                    health = {"node": node.name, "role": node.role, "cluster": node.cluster, "ray": "running"}
                    self.answer(200, json.dumps(health).encode())
                elif bare == "/ray":
                    # Ray's page loads its assets relative to itself: it must be opened with the slash.
                    self.answer(308, b"", "text/plain", [("location", "/ray/" + path[len("/ray"):])])
                elif bare in RAY_SHELL_PATHS or bare.startswith("/ray/static/"):
                    self.proxy(node.head_ports["dashboardPort"], path[len("/ray"):], prefix="/ray")
                elif self.is_shell(bare):
                    self.to_dashboard(path, None)
                elif not self.has_cluster_credential() and not (self.is_dashboard_api(bare) and self.has_dashboard_token()):
                    self.refuse()
                elif bare == "/rayfleet/door":
                    self.answer(200, json.dumps({"door": "rayfleet", "cluster": node.cluster, "node": node.name}).encode())
                elif bare == "/rayfleet/head-address":
                    self.answer(200, node.address.encode(), "text/plain")
                elif path.startswith("/rayfleet/"):
                    self.answer(404, json.dumps({"code": "ROUTE_NOT_FOUND", "message": f"the door has no {bare}"}).encode())
                elif path.startswith("/ray/"):
                    self.proxy(node.head_ports["dashboardPort"], path[len("/ray"):], prefix="/ray", token=node.ray_token())
                elif bare == "/serve" or path.startswith("/serve/") or path.startswith("/serve?"):
                    serve_port = node.head_ports.get("servePort", 8000)
                    rest = path[len("/serve"):]
                    self.proxy(serve_port, rest if rest.startswith("/") else "/" + rest, prefix="/serve")
                else:
                    self.to_dashboard(path, node.dashboard_token())

            def is_shell(self, bare):
                return bare in ("/", "/favicon.ico") or bare.startswith(SHELL_PATHS)

            def is_dashboard_api(self, bare):
                return not bare.startswith(("/rayfleet/", "/ray/", "/serve"))

            def refuse(self):
                error = {"code": "UNAUTHORIZED", "message": f"every request through the front door of {node.cluster} needs the cluster's credential",
                         "details": "Send `X-Ray-Authorization: Bearer <the cluster's Ray token>` (rayfleet does: run the command with the cluster's"
                                    " RAYFLEET_HOME); the dashboard's API also takes `rayfleet dashboard --token -c <name>` in Authorization."}
                self.answer(401, json.dumps(error).encode(), headers=[("www-authenticate", 'Bearer realm="rayfleet"')])

            def presented(self):
                """Every token the request offers: X-Ray-Authorization, Authorization (a browser after Ray's login), Ray's cookie."""
                offered = [bearer_of(self.headers.get("x-ray-authorization")), bearer_of(self.headers.get("authorization"))]
                for cookie in self.headers.get_all("cookie") or []:
                    for part in cookie.split(";"):
                        name, _, value = part.strip().partition("=")
                        if name == RAY_COOKIE:
                            offered.append(value.strip())
                return [token for token in offered if token]

            def has_cluster_credential(self):
                return matches_any(self.presented(), node.ray_token())

            def has_dashboard_token(self):
                return matches_any([bearer_of(self.headers.get("authorization"))], node.dashboard_token())

            def to_dashboard(self, path, token):
                port = node.dashboard_port()
                if port is None:
                    if path.split("?")[0] == "/":
                        page = (f"<!doctype html><title>rayfleet: {node.cluster}</title><p>Cluster {node.cluster}: Ray is up on {node.name}; "
                                f"rayfleet's dashboard is starting (reload in a moment). Ray's dashboard: <a href=\"ray/\">ray/</a></p>")
                        self.answer(200, page.encode(), "text/html; charset=utf-8")
                    else:
                        error = {"code": "DASHBOARD_STARTING", "message": f"rayfleet's dashboard in {node.name} is not serving yet", "details": "Try again in a moment."}
                        self.answer(503, json.dumps(error).encode(), headers=[("retry-after", "1")])
                    return
                # The dashboard's guard accepts its own loopback address as Host, not the application's; off loopback it
                # needs its token, which the door adds once the request has shown a credential (the shell needs none).
                self.proxy(port, path, host=f"127.0.0.1:{port}", token=token)

            def proxy(self, port, path, host=None, prefix="", token=None):
                """Sends the request on, without any credential but `token` (the upstream's own), and streams the answer
                back as it comes: status, headers, then each chunk (SSE never ends)."""
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length > 0 else None
                dropped = HOP_HEADERS | CREDENTIAL_HEADERS | {"host", "content-length"}
                headers = {name: value for name, value in self.headers.items() if name.lower() not in dropped}
                if host is not None:
                    headers["Host"] = host
                if token is not None:
                    headers["Authorization"] = f"Bearer {token}"
                upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                try:
                    upstream.request(self.command, path, body=body, headers=headers)
                    response = upstream.getresponse()
                except OSError as error:
                    upstream.close()
                    self.answer(502, f"127.0.0.1:{port} does not answer: {error}".encode(), "text/plain")
                    return
                try:
                    # An answer may wait for events as long as it likes; the connection was made within the timeout.
                    if upstream.sock is not None:
                        upstream.sock.settimeout(None)
                    self.send_response_only(response.status, response.reason)
                    self.send_header(*DOOR_HEADER)
                    for name, value in response.getheaders():
                        lowered = name.lower()
                        if lowered in HOP_HEADERS:
                            continue
                        if lowered == "location" and prefix and value.startswith("/"):
                            value = prefix + value
                        self.send_header(name, value)
                    # HTTP/1.0 here: the answer ends when the connection does, so a stream needs no length.
                    self.send_header("connection", "close")
                    self.end_headers()
                    while self.command != "HEAD":
                        chunk = response.read1(STREAM_CHUNK)
                        if not chunk:
                            break
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    upstream.close()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

            def log_message(self, *_):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.app_port), Handler, bind_and_activate=False)
        try:
            server.server_bind()
        except OSError as error:
            server.server_close()
            fail(f"this application's port {self.app_port} (CDSW_APP_PORT) is already in use ({error.strerror})")
        return server

    def serve(self, server):
        """CML keeps the application RUNNING while this answers. On the head it is the cluster's front door (see above)."""
        server.server_activate()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        log(f"serving on port {self.app_port}")

    def stop(self, *_):
        with self.lock:
            self.stopping.set()
            for process in (self.dashboard, self.watcher, self.ray):
                if process is not None and process.poll() is None:
                    process.terminate()


def main():
    global _log_file
    node = Node()
    log_path = os.path.join(node.state, "logs", f"{node.name}.log")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    _log_file = open(log_path, "a")
    signal.signal(signal.SIGTERM, node.stop)
    server = node.app_server()
    node.start_ray()
    node.publish()
    node.start_watcher()
    node.start_dashboard()
    node.serve(server)
    code = node.ray.wait()
    server.shutdown()
    node.stop()
    log(f"ray exited with {code}")
    sys.exit(code)


if __name__ == "__main__":
    main()
