#!/usr/bin/env bash
# Makes local images of the real servers and peers the whole-stack test
# (test/whole-stack.test.ts) runs around the seedbox image, from the host's
# own binaries, for machines that reach no image registry:
#
#   seedbox-nats:local          nats-server (JetStream)        runs as nobody
#   seedbox-opentracker:local   opentracker (whitelist build)  chroots to
#                               /srv/opentracker and drops to nobody itself
#   seedbox-transmission:local  transmission-daemon and transmission-remote
#
# Each holds the binaries, exactly the libraries `ldd` lists for them,
# /etc/passwd and /etc/group (root, nobody, seedbox 10001), nsswitch.conf
# (so names resolve through Docker's DNS), /tmp (1777) and the host's CA
# bundle; no shell. They are loaded with `docker import`, like
# scripts/make-base-image.sh does for node.
#
# Idempotent: an image whose comment carries the same stamp (a hash of the
# binaries, their libraries and this script) is kept, so a second run takes
# about a second. SEEDBOX_REBUILD_TOOLS=1 rebuilds anyway.
#
# Usage: scripts/make-tool-images.sh       (prints the three tags, one a line)
# Needs: docker (a running daemon), ldd, and the Debian packages nats-server,
#        opentracker, transmission-daemon and transmission-cli.
set -euo pipefail
# shellcheck source=scripts/image-root.sh
. "$(dirname "$0")/image-root.sh"
cd "$(dirname "$0")/.."
self="$(pwd)/scripts/make-tool-images.sh"

die() {
  echo "make-tool-images: $*" >&2
  exit 1
}

command -v docker >/dev/null || die "docker is not installed (apt-get install docker.io)"
command -v ldd >/dev/null || die "ldd is not installed (libc-bin)"
docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon (start dockerd, or set DOCKER_HOST)"

# The host binary for a command, or a message naming the package to install.
need_bin() {
  local cmd="$1" pkg="$2" path
  path="$(command -v "$cmd" || true)"
  [ -n "$path" ] || die "$cmd is not installed (apt-get install $pkg)"
  readlink -f "$path"
}

# Every library (and the loader) that `ldd` lists for the given binaries.
libs_of() {
  ldd "$@" 2>/dev/null | grep -o '/[^ ]*' | grep -v ':$' | sort -u
}

# make_image TAG USER HOOK BINARY...: builds TAG (running as USER, with
# BINARY... in /usr/local/bin) unless it is up to date. HOOK is a function
# called with the staging folder, for what else the image needs.
make_image() {
  local tag="$1" user="$2" hook="$3"
  shift 3
  local bins=("$@") stamp stage bin lib dir
  # shellcheck disable=SC2046
  stamp="seedbox tool image: $(sha256sum "${bins[@]}" $(libs_of "${bins[@]}") "$self" | sha256sum | cut -c1-16)"
  if [ "${SEEDBOX_REBUILD_TOOLS:-0}" != "1" ] &&
    [ "$(docker image inspect -f '{{.Comment}}' "$tag" 2>/dev/null || true)" = "$stamp" ]; then
    echo "$tag: up to date" >&2
    return
  fi

  stage="$(mktemp -d /tmp/seedbox-tool-image.XXXXXX)"
  # Merged /usr like Debian, so the libraries are found at the paths ldd
  # prints (/lib/x86_64-linux-gnu/..., /lib64/ld-linux-x86-64.so.2).
  mkdir -p "$stage"/usr/bin "$stage"/usr/lib "$stage"/usr/lib64 "$stage"/usr/local/bin \
    "$stage"/etc/ssl/certs "$stage"/tmp
  ln -s usr/bin "$stage/bin"
  ln -s usr/lib "$stage/lib"
  ln -s usr/lib64 "$stage/lib64"
  chmod 1777 "$stage/tmp"

  for bin in "${bins[@]}"; do
    cp -L "$bin" "$stage/usr/local/bin/$(basename "$bin")"
  done
  # Copied to the same path, with the directories resolved the way the host
  # resolves them (/lib -> /usr/lib).
  for lib in $(libs_of "${bins[@]}"); do
    dir="$(readlink -f "$(dirname "$lib")")"
    mkdir -p "$stage$dir"
    cp -L "$lib" "$stage$dir/$(basename "$lib")"
  done

  write_system_files "$stage"
  "$hook" "$stage"

  tar -C "$stage" --numeric-owner --owner=0 --group=0 -c . |
    docker import \
      --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
      --change 'ENV HOME=/tmp' \
      --change "USER $user" \
      --change 'WORKDIR /tmp' \
      --message "$stamp" \
      - "$tag" >/dev/null
  rm -rf "$stage"
  echo "$tag: built from ${bins[*]}" >&2
}

extra_none() { :; }
# Transmission loads OpenSSL 3's legacy provider for the RC4 of encrypted
# peer connections (MSE), a module ldd does not list; without it the daemon
# dies at the first encrypted handshake.
extra_transmission() {
  local modules
  modules="$(readlink -f "$(openssl version -m | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')")"
  [ -f "$modules/legacy.so" ] || die "no OpenSSL legacy provider in $modules (apt-get install libssl3)"
  mkdir -p "$1$modules"
  cp -L "$modules/legacy.so" "$1$modules/legacy.so"
}
# opentracker chroots into its -d folder and then reads the whitelist there
# as nobody: the folder must exist and be readable.
extra_opentracker() {
  mkdir -p "$1/srv/opentracker"
  chmod 755 "$1/srv/opentracker"
}

nats="$(need_bin nats-server nats-server)"
opentracker="$(need_bin opentracker opentracker)"
daemon="$(need_bin transmission-daemon transmission-daemon)"
remote="$(need_bin transmission-remote transmission-cli)"

make_image seedbox-nats:local 65534:65534 extra_none "$nats"
make_image seedbox-opentracker:local 0:0 extra_opentracker "$opentracker"
make_image seedbox-transmission:local 0:0 extra_transmission "$daemon" "$remote"

printf '%s\n' seedbox-nats:local seedbox-opentracker:local seedbox-transmission:local
