#!/usr/bin/env bash
# Builds the Ray image the Docker tests run, with no registry: a Debian rootfs made by debootstrap from Debian's
# packages, and Ray installed from PyPI wheels downloaded on the host (the container needs no network).
# Both steps are cached: the images by tag in the engine, the wheels under the rayfleet cache directory.
# Usage: build-ray-image.sh TAG RAY_VERSION
set -euo pipefail
tag=$1
ray_version=$2
base=rayfleet-test/debian-python:bookworm
# Ray's extras are part of the cache key: an image built before Serve was installed carries another label and is rebuilt.
extras=default,serve

if [ "$(docker image inspect --format '{{ index .Config.Labels "rayfleet.ray-extras" }}' "$tag" 2>/dev/null)" = "$extras" ]; then exit 0; fi

if ! docker image inspect "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  echo "[ray-image] debootstrap bookworm (python3) from ${mirror:-http://deb.debian.org/debian}" >&2
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" "${mirror:-http://deb.debian.org/debian}" >&2
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
LABEL rayfleet.test-image=true rayfleet.ray-extras=$extras
DOCKERFILE
