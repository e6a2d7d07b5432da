#!/usr/bin/env bash
# Builds the Ray image the Docker tests run, and the SSH hosts' (one image), with no registry: a Debian rootfs made by
# debootstrap from Debian's packages (python3 with venv; openssh-server and rsync for the SSH hosts and Ray's own cluster
# launcher), and Ray installed from PyPI wheels downloaded on the host (the container needs no network).
# Both steps are cached: the images by tag in the engine, the wheels under the rayfleet cache directory.
# Usage: build-ray-image.sh TAG RAY_VERSION
set -euo pipefail
tag=$1
ray_version=$2
base=rayfleet-test/debian-python-ssh:bookworm
# Ray's extras and the base's packages are the cache key: an image built from another set carries another label and is rebuilt.
extras=default,serve
packages=python3,python3-venv,openssh-server,rsync,procps
key="$extras;$packages"

if [ "$(docker image inspect --format '{{ index .Config.Labels "rayfleet.image-key" }}' "$tag" 2>/dev/null)" = "$key" ]; then exit 0; fi

if ! docker image inspect "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  echo "[ray-image] debootstrap bookworm ($packages) from ${mirror:-http://deb.debian.org/debian}" >&2
  debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "${mirror:-http://deb.debian.org/debian}" >&2
  # Host keys made at install would be every container's: each SSH host makes its own at start (ssh-keygen -A).
  rm -f "$rootfs"/etc/ssh/ssh_host_*
  tar -C "$rootfs" -c . | docker import - "$base" >&2
fi

# The wheels must suit the image's Python (Debian bookworm: 3.11).
python=$(command -v python3.11 || command -v python3)
"$python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || { echo "need Python 3.11 on the host to download wheels for the image" >&2; exit 1; }
wheels=${RAYFLEET_CACHE_DIR:-$HOME/.cache/rayfleet}/wheels/ray-$ray_version-${extras//,/-}-py3.11
mkdir -p "$wheels"
echo "[ray-image] wheels for ray[$extras]==$ray_version into $wheels" >&2
"$python" -m pip download --quiet --only-binary=:all: -d "$wheels" "ray[$extras]==$ray_version" >&2

echo "[ray-image] building $tag" >&2
docker build --quiet -t "$tag" -f - "$wheels" >&2 <<DOCKERFILE
FROM $base
COPY . /tmp/wheels
RUN python3 -m venv /opt/ray && /opt/ray/bin/pip install --quiet --no-index --find-links /tmp/wheels "ray[$extras]==$ray_version" && rm -rf /tmp/wheels /root/.cache
ENV PATH=/opt/ray/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL rayfleet.test-image=true rayfleet.image-key="$key"
DOCKERFILE
