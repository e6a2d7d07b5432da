#!/usr/bin/env python3
"""rayfleet's agent on one SSH host: it starts, lists and stops the Ray nodes of one cluster there.

rayfleet runs it over one long-lived `ssh` session per host and speaks JSON lines on its stdin and stdout, so a
watcher's tick costs one request per host and no new process. It carries the local backend's rules to the host:
a node is one `ray start --block` in a session and process group of its own, held at a gate until its record (pid,
start time, boot id) is written, so an agent killed at any point leaves no unrecorded node; nothing is signalled
unless pid, start time and boot id still match, or the process carries the node's marker in its environment.

Standard library only, under the host's own python3, before any venv is trusted.

Usage: python3 host_agent.py STATE_DIR TEMP_DIR
  STATE_DIR: the cluster's directory here (records in STATE_DIR/nodes, logs in STATE_DIR/logs, the head's GCS store);
  TEMP_DIR: the directory of its nodes' Ray sessions. `remove` touches nothing outside these two.
Request:  {"id": 1, "op": "list"}
Answer:   {"id": 1, "ok": true, "result": {...}}  or  {"id": 1, "ok": false, "error": {"code": "...", "message": "..."}}
"""
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time

MARKER = "RAYFLEET_NODE_RECORD"
# Linux reports start times in USER_HZ, 100 on every architecture.
TICKS_PER_SECOND = 100
# The gate: the held child reads its pipe and execs the command only on b"open"; end-of-file (the agent died) ends it.
GATE = (
    "import os, sys\n"
    "fd = int(sys.argv[1])\n"
    "word = os.read(fd, 5)\n"
    "os.close(fd)\n"
    "if word != b'open': sys.exit(70)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)
GATE_EXIT_S = 2.0


class AgentError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def read_text(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def boot_id():
    return read_text("/proc/sys/kernel/random/boot_id").strip()


def proc_stat(pid):
    """State, parent, group and start ticks of a process; None when there is no such process."""
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        text = read_text(f"/proc/{pid}/stat")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split(" ")
    return {"state": fields[0], "ppid": int(fields[1]), "pgid": int(fields[2]), "startTicks": int(fields[19])}


def proc_env(pid, name):
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read().split(b"\0")
    except OSError:
        return None
    prefix = (name + "=").encode()
    for variable in environ:
        if variable.startswith(prefix):
            return variable[len(prefix):].decode(errors="replace")
    return None


def is_leader_alive(record):
    stat = proc_stat(record["pid"])
    return (
        stat is not None
        and stat["state"] != "Z"
        and stat["startTicks"] == record.get("startTicks")
        and record.get("bootId") == boot_id()
    )


def our_members(record):
    """Processes of the node's group that carry its marker: once the leader is gone, only these are provably ours."""
    marker = record.get("marker")
    if marker is None:
        return []
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = proc_stat(int(entry))
        if stat is None or stat["pgid"] != record["pid"] or stat["state"] == "Z":
            continue
        if proc_env(int(entry), marker["name"]) == marker["value"]:
            members.append(int(entry))
    return members


def is_group_alive(record):
    return is_leader_alive(record) or len(our_members(record)) > 0


def send(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop_group(record, grace_s):
    """SIGTERM to the leader (`ray start --block` shuts its node down in order), SIGKILL to the group after the grace."""
    if is_leader_alive(record):
        send(record["pid"], signal.SIGTERM)
    elif our_members(record):
        send(-record["pid"], signal.SIGTERM)
    else:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and is_group_alive(record):
        reap()
        time.sleep(0.1)
    if is_group_alive(record):
        send(-record["pid"], signal.SIGKILL)
    while is_group_alive(record):
        reap()
        time.sleep(0.05)


def reap():
    """Collects this agent's exited children, so a node that ended is not held as a zombie while the agent lives."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def expand_home(value):
    """A path written `~/...` by rayfleet (which does not know the login's home here) as this host sees it."""
    return os.path.expanduser(value) if value.startswith("~/") else value


def is_inside(path, directory):
    return os.path.commonpath([path, directory]) == directory and path != directory


class Agent:
    def __init__(self, state_dir, temp_dir):
        self.state_dir = state_dir
        self.temp_dir = temp_dir
        self.nodes_dir = os.path.join(state_dir, "nodes")
        self.logs_dir = os.path.join(state_dir, "logs")
        os.makedirs(self.nodes_dir, mode=0o700, exist_ok=True)
        os.makedirs(self.logs_dir, mode=0o700, exist_ok=True)

    def record_path(self, name):
        if "/" in name or name.startswith("."):
            raise AgentError("NODE_NOT_FOUND", f"{name!r} is not the name of a node")
        return os.path.join(self.nodes_dir, name + ".json")

    def log_path(self, name):
        return os.path.join(self.logs_dir, name + ".log")

    def read_record(self, name):
        try:
            text = read_text(self.record_path(name))
        except FileNotFoundError:
            return None
        try:
            record = json.loads(text)
            if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
                raise ValueError("not a node record")
            return record
        except ValueError as error:
            raise AgentError("NODE_RECORD_UNREADABLE", f"the record of {name} ({self.record_path(name)}) is unreadable: {error}")

    def write_record(self, record):
        target = self.record_path(record["name"])
        with open(target + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(target + ".tmp", target)

    def state_of(self, record):
        if record["pid"] == 0:
            # A claim: the agent that wrote it is this one (launches run one at a time here), so it is a launch that died.
            return "failed"
        if is_leader_alive(record):
            return "running"
        return "failed" if our_members(record) else "stopped"

    def view(self, record):
        node = {key: record[key] for key in ("name", "role", "group", "index", "createdAt", "address", "resources") if key in record}
        node["pid"] = record["pid"]
        node["state"] = self.state_of(record)
        return node

    # --- operations -------------------------------------------------------------------------------------------

    def op_hello(self, _request):
        gpus = 0
        if shutil.which("nvidia-smi"):
            try:
                out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
                gpus = sum(1 for line in out.splitlines() if line.startswith("GPU "))
            except (OSError, subprocess.SubprocessError):
                gpus = 0
        memory = 0
        for line in read_text("/proc/meminfo").splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
        return {
            "bootId": boot_id(),
            "hostname": socket.gethostname(),
            "python": platform.python_version(),
            "cpus": len(os.sched_getaffinity(0)),
            "memoryBytes": memory,
            "gpus": gpus,
            "home": os.path.expanduser("~"),
            "stateDir": self.state_dir,
        }

    def op_list(self, _request):
        nodes, unreadable = [], []
        for file in sorted(os.listdir(self.nodes_dir)):
            if not file.endswith(".json"):
                continue
            name = file[: -len(".json")]
            try:
                record = self.read_record(name)
                if record is not None:
                    nodes.append(self.view(record))
            except AgentError as error:
                unreadable.append({"name": name, "reason": str(error)})
        return {"nodes": nodes, "unreadable": unreadable}

    def op_launch(self, request):
        node = request["node"]
        name = node["name"]
        record = dict(node, pid=0)
        while not self.claim(record):
            held = self.read_record(name)
            if held is None:
                continue
            if self.state_of(held) == "running":
                return self.view(held)
            # What is left of a node that ended: stop any orphans before the name is used again.
            self.op_terminate({"name": name, "graceMs": 0})
        argv = request["argv"]
        log = self.log_path(name)
        try:
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(f"--- rayfleet: starting {name} at {node.get('createdAt', '')} ---\n")
            command = shutil.which(argv[0]) or argv[0]
            if not os.access(command, os.X_OK):
                raise AgentError("NODE_START_FAILED", f"cannot run {argv[0]} on {socket.gethostname()}")
            marker = {"name": MARKER, "value": self.record_path(name)}
            env = dict(os.environ)
            # Ray reads the paths it is given as they are (RAY_gcs_storage_path is never expanded): `~` is resolved here.
            env.update({key: expand_home(value) for key, value in request.get("env", {}).items()})
            bin_dir = os.path.dirname(command)
            env["PATH"] = os.pathsep.join([bin_dir] + [entry for entry in env.get("PATH", "").split(os.pathsep) if entry and entry != bin_dir])
            if os.path.exists(os.path.join(os.path.dirname(bin_dir), "pyvenv.cfg")):
                env["VIRTUAL_ENV"] = os.path.dirname(bin_dir)
            env[marker["name"]] = marker["value"]
            read_end, write_end = os.pipe()
            with open(log, "ab") as out:
                child = subprocess.Popen(
                    [sys.executable, "-c", GATE, str(read_end), command] + list(argv[1:]),
                    pass_fds=(read_end,),
                    start_new_session=True,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=os.path.expanduser("~"),
                )
            os.close(read_end)
            stat = proc_stat(child.pid)
            record.update(pid=child.pid, startTicks=stat["startTicks"] if stat else None, bootId=boot_id(), marker=marker)
            try:
                self.write_record(record)
                os.write(write_end, b"open")
            finally:
                os.close(write_end)
            return self.view(record)
        except BaseException:
            if record["pid"] > 0:
                stop_group(record, GATE_EXIT_S)
            try:
                os.remove(self.record_path(name))
            except FileNotFoundError:
                pass
            raise

    def claim(self, record):
        """Exclusive create of the name's record: two launches never start the same node on this host."""
        try:
            fd = os.open(self.record_path(record["name"]), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        return True

    def op_terminate(self, request):
        name = request["name"]
        record = self.read_record(name)
        if record is None:
            return {}
        if record["pid"] > 0:
            stop_group(record, request.get("graceMs", 30000) / 1000)
        try:
            os.remove(self.record_path(name))
        except FileNotFoundError:
            pass
        return {}

    def op_read_log(self, request):
        """Lines of a node's log from `offset` (bytes), or its last `tail` lines; the offset to read on from."""
        path = self.log_path(request["name"])
        if not os.path.exists(path):
            if self.read_record(request["name"]) is None:
                raise AgentError("NODE_NOT_FOUND", f"no node named {request['name']} on {socket.gethostname()}")
            return {"lines": [], "offset": 0}
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            offset = request.get("offset")
            if offset is None:
                handle.seek(max(0, size - 1024 * 1024))
                lines = handle.read().decode(errors="replace").splitlines()
                tail = request.get("tail")
                return {"lines": lines if tail is None else lines[-tail:] if tail > 0 else [], "offset": size}
            handle.seek(min(offset, size))
            data = handle.read(1024 * 1024)
            # Only whole lines: a line being written is read once it ends.
            end = data.rfind(b"\n") + 1
            return {"lines": data[:end].decode(errors="replace").splitlines(), "offset": min(offset, size) + end}

    def op_write_secret(self, request):
        """A file only this user can read, written whole: the cluster's token arrives here through SSH's stdin, never argv."""
        path = os.path.join(self.state_dir, request["file"])
        temporary = path + ".tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(request["content"])
        os.replace(temporary, path)
        return {"path": path}

    def op_remove(self, request):
        """Removes a file or a directory tree of this cluster's (the head's GCS store, a node's last-start file); gone is fine."""
        path = os.path.realpath(expand_home(request["path"]))
        own = [os.path.realpath(directory) for directory in (self.state_dir, self.temp_dir)]
        if not any(is_inside(path, directory) for directory in own):
            raise AgentError("USAGE", f"{request['path']} is not inside this cluster's directories on {socket.gethostname()}")
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
        return {}

    def op_free_port(self, _request):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("0.0.0.0", 0))
            return {"port": probe.getsockname()[1]}

    def op_python_info(self, request):
        """The Python and Ray versions of an interpreter on this host, for the check against the head's."""
        python = os.path.expanduser(request["python"])
        code = "import sys, json\ntry:\n import ray; v = ray.__version__\nexcept Exception as e:\n v = None\nprint(json.dumps({'python': '%d.%d.%d' % sys.version_info[:3], 'ray': v}))"
        try:
            out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
        except OSError as error:
            raise AgentError("RUNTIME_MISMATCH", f"cannot run {python} on {socket.gethostname()}: {error}")
        if out.returncode != 0:
            raise AgentError("RUNTIME_MISMATCH", f"{python} on {socket.gethostname()} failed: {out.stderr.strip()[-500:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def op_remove_state(self, _request):
        """Once the cluster's last node here is gone: its records, logs and secrets leave the host."""
        if self.op_list({})["nodes"]:
            raise AgentError("PROVIDER_FAILED", f"{self.state_dir} still holds nodes")
        shutil.rmtree(self.state_dir, ignore_errors=True)
        return {}


def main():
    state_dir = os.path.expanduser(sys.argv[1])
    agent = Agent(state_dir, os.path.expanduser(sys.argv[2]))
    out = sys.stdout
    out.write(json.dumps({"id": 0, "ok": True, "result": {"ready": True}}) + "\n")
    out.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        request_id = None
        try:
            request = json.loads(line)
            request_id = request.get("id")
            reap()
            handler = getattr(agent, "op_" + str(request.get("op", "")).replace("-", "_"), None)
            if handler is None:
                raise AgentError("USAGE", f"no operation {request.get('op')!r}")
            answer = {"id": request_id, "ok": True, "result": handler(request)}
        except AgentError as error:
            answer = {"id": request_id, "ok": False, "error": {"code": error.code, "message": str(error)}}
        except Exception as error:  # noqa: BLE001 - every failure is answered, so the client never waits on a lost request
            answer = {"id": request_id, "ok": False, "error": {"code": "PROVIDER_FAILED", "message": f"{type(error).__name__}: {error}"}}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
