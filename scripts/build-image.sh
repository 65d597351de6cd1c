#!/usr/bin/env bash
# Builds the Dockerfile's image without Docker (issue 11): buildah with the vfs storage driver and
# chroot isolation, so it works as root on a machine without a container daemon or overlayfs.
#   bash scripts/build-image.sh            build (skipped when the image of this Dockerfile + lock exists); prints the image name
#   bash scripts/build-image.sh base       only the offline base image
# With registry access, `docker build .` / `buildah bud .` use the public node:24-bookworm-slim.
# Without it (CI, this machine: package registries only) the base is made here: a Debian bookworm
# minbase root file system from debootstrap (Debian mirror) plus Node.js 24 from the npm registry's
# `node` package (binary and headers, so better-sqlite3 compiles offline) and the host's npm,
# imported as localhost/dedup-lab-base:bookworm-node24 and passed as BASE_IMAGE.
# Apt packages: buildah debootstrap (installed when missing). Cache: $DEDUP_LAB_CACHE_DIR/image
# (≈ 1.3 GB with vfs; first build ≈ 4–5 min on 2 cores: debootstrap ≈ 1 min, base 35 s, Dockerfile
# ≈ 2.6 min; later runs skip when the hash matches).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${DEDUP_LAB_CACHE_DIR:-/var/cache/dedup-lab}/image"
BASE=localhost/dedup-lab-base:bookworm-node24
STORE=(--storage-driver vfs --root "$CACHE/containers" --runroot "$CACHE/run")
mkdir -p "$CACHE"

need() {
  command -v buildah >/dev/null && command -v debootstrap >/dev/null && return
  echo "build-image: installing buildah and debootstrap from Debian" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah debootstrap >&2
}

has_image() { buildah "${STORE[@]}" inspect --type image "$1" >/dev/null 2>&1; }

build_base() {
  has_image "$BASE" && return
  local rootfs="$CACHE/rootfs"
  if ! [ -x "$rootfs/bin/sh" ]; then
    rm -rf "$rootfs.tmp"
    debootstrap --variant=minbase bookworm "$rootfs.tmp" http://deb.debian.org/debian >&2
    mv "$rootfs.tmp" "$rootfs"
  fi
  local node_bin node_dir npm_dir
  node_bin=$(bash scripts/node-line.sh 24 | sed -n 1p)
  node_dir=$(bash scripts/node-line.sh 24 | sed -n 2p)
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  local ctr mnt
  ctr=$(buildah "${STORE[@]}" from scratch)
  mnt=$(buildah "${STORE[@]}" mount "$ctr")
  cp -a "$rootfs/." "$mnt/"
  mkdir -p "$mnt/usr/local/bin" "$mnt/usr/local/include" "$mnt/usr/local/lib/node_modules"
  cp "$node_bin/node" "$mnt/usr/local/bin/node"
  cp -a "$node_dir/include/node" "$mnt/usr/local/include/node"
  cp -a "$npm_dir" "$mnt/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  rm -rf "$mnt/var/cache/apt/archives/"*.deb
  buildah "${STORE[@]}" umount "$ctr" >/dev/null
  buildah "${STORE[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node "$ctr"
  buildah "${STORE[@]}" commit --rm "$ctr" "$BASE" >&2
}

need
build_base
[ "${1:-}" = base ] && { echo "$BASE"; exit 0; }
# The image is named by what goes into it: Dockerfile, lock, and the sources it copies.
hash=$(cat Dockerfile package.json package-lock.json <(find bin src examples scripts/build.js -type f | sort | xargs sha256sum) | sha256sum | cut -c1-16)
IMAGE=localhost/dedup-lab:$hash
# npm inside the build reaches the registry the way this machine does: through its CA bundle when
# NODE_EXTRA_CA_CERTS is set here (a TLS-inspecting proxy), bind-mounted for RUN steps only.
ca_args=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  ca_args=(--volume "$NODE_EXTRA_CA_CERTS:/run/host-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/host-ca.crt)
fi
if ! has_image "$IMAGE"; then
  buildah "${STORE[@]}" bud --isolation chroot --network host --layers=false \
    --build-arg BASE_IMAGE="$BASE" "${ca_args[@]}" -t "$IMAGE" -f Dockerfile . >&2
  # vfs stores every layer as a full copy: keep the base and the newest image only.
  for old in $(buildah "${STORE[@]}" images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/dedup-lab:' | grep -vx "$IMAGE"); do
    buildah "${STORE[@]}" rmi "$old" >/dev/null || true
  done
  buildah "${STORE[@]}" rmi --prune >/dev/null || true
fi
echo "$IMAGE"
