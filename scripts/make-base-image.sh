#!/usr/bin/env bash
# Makes a local Node base image from the host's own `node` binary, for
# machines where no image registry can be reached (so `FROM node:24-slim`
# cannot be pulled). The image holds:
#
#   /usr/local/bin/node      the host's node binary
#   the shared libraries     exactly what `ldd` lists for it (and for sh/env)
#   /etc/passwd, /etc/group  root, nobody and seedbox (uid/gid 10001)
#   /etc/ssl/certs           the host's CA bundle (NODE_EXTRA_CA_CERTS points
#                            at it, so npm works behind a TLS-inspecting proxy)
#   /tmp                     mode 1777
#
# and, with --build, what the Dockerfile's build stage needs on top:
#
#   /usr/local/lib/node_modules/npm   the host's npm (the folder next to node)
#   /usr/local/bin/npm, npx           wrappers around it
#   /bin/sh (dash), /usr/bin/env      npm runs scripts with `sh -c`, and the
#                                     .bin shims start with `#!/usr/bin/env node`
#
# The runtime variant has no shell at all: the services need only node.
# The image is loaded with `docker import`; its Node version is the host's
# (the Dockerfile's default base, an official Node 24 image, is for machines
# with a registry).
#
# Usage: scripts/make-base-image.sh [--build] [TAG]
#   TAG defaults to seedbox-base:local (seedbox-base:local-build with --build).
#   NODE=/path/to/node picks another node binary; NPM_DIR another npm folder.
set -euo pipefail
# shellcheck source=scripts/image-root.sh
. "$(dirname "$0")/image-root.sh"

with_build_tools=false
if [ "${1:-}" = "--build" ]; then
  with_build_tools=true
  shift
fi
if $with_build_tools; then
  tag="${1:-seedbox-base:local-build}"
else
  tag="${1:-seedbox-base:local}"
fi

node_bin="$(readlink -f "${NODE:-$(command -v node)}")"
[ -x "$node_bin" ] || { echo "make-base-image: no node binary found (set NODE=)" >&2; exit 1; }
command -v docker >/dev/null || { echo "make-base-image: docker is not installed" >&2; exit 1; }
command -v ldd >/dev/null || { echo "make-base-image: ldd is not installed (libc-bin)" >&2; exit 1; }

# `docker import` makes a new image id every time, which would invalidate
# every layer built on it (npm ci included): keep an image made from the
# same node binary unless SEEDBOX_REBUILD_BASE=1.
variant="runtime"
$with_build_tools && variant="build"
stamp="seedbox base ($variant): $(sha256sum "$node_bin" | cut -c1-16) node $("$node_bin" --version)"
if [ "${SEEDBOX_REBUILD_BASE:-0}" != "1" ] &&
  [ "$(docker image inspect -f '{{.Comment}}' "$tag" 2>/dev/null || true)" = "$stamp" ]; then
  echo "$tag: up to date ($stamp)"
  exit 0
fi

stage="$(mktemp -d /tmp/seedbox-base.XXXXXX)"
trap 'rm -rf "$stage"' EXIT

# Merged /usr like Debian: the libraries are found at the paths ldd prints
# (/lib/x86_64-linux-gnu/..., /lib64/ld-linux-x86-64.so.2) through these links.
mkdir -p "$stage"/usr/bin "$stage"/usr/lib "$stage"/usr/lib64 "$stage"/usr/local/bin \
  "$stage"/etc/ssl/certs "$stage"/tmp "$stage"/app
ln -s usr/bin "$stage/bin"
ln -s usr/lib "$stage/lib"
ln -s usr/lib64 "$stage/lib64"
chmod 1777 "$stage/tmp"

# Copies FILE (following links) to the same path in the image, with its
# directories resolved the way the host resolves them (/lib -> /usr/lib).
add_file() {
  local src="$1" dir
  dir="$(readlink -f "$(dirname "$src")")"
  mkdir -p "$stage$dir"
  cp -L "$src" "$stage$dir/$(basename "$src")"
}

# Every library the binary links, including the dynamic loader.
add_libs() {
  local lib
  for lib in $(ldd "$1" | grep -o '/[^ ]*'); do
    add_file "$lib"
  done
}

cp "$node_bin" "$stage/usr/local/bin/node"
add_libs "$node_bin"

if $with_build_tools; then
  add_file "$(readlink -f /bin/sh)"
  ln -sf "$(basename "$(readlink -f /bin/sh)")" "$stage/usr/bin/sh"
  add_libs /bin/sh
  add_file /usr/bin/env
  add_libs /usr/bin/env

  npm_dir="${NPM_DIR:-$(dirname "$node_bin")/../lib/node_modules/npm}"
  [ -f "$npm_dir/bin/npm-cli.js" ] || { echo "make-base-image: no npm at $npm_dir (set NPM_DIR=)" >&2; exit 1; }
  mkdir -p "$stage/usr/local/lib/node_modules"
  cp -a "$(readlink -f "$npm_dir")" "$stage/usr/local/lib/node_modules/npm"
  for cmd in npm npx; do
    printf '#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/%s-cli.js "$@"\n' "$cmd" \
      >"$stage/usr/local/bin/$cmd"
    chmod 755 "$stage/usr/local/bin/$cmd"
  done
fi

write_system_files "$stage"

tar -C "$stage" --numeric-owner --owner=0 --group=0 -c . |
  docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'WORKDIR /app' \
    --change 'CMD ["node"]' \
    --message "$stamp" \
    - "$tag" >/dev/null

echo "$tag: node $("$node_bin" --version)$($with_build_tools && echo ", npm $("$node_bin" "$npm_dir/bin/npm-cli.js" --version 2>/dev/null)")"
