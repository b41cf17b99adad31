#!/usr/bin/env bash
# Builds the seedbox image (all three services) from the working tree.
#
# Usage: scripts/build-images.sh [TAG]        TAG defaults to seedbox:dev
#
# By default the base images are made locally from the host's node
# (scripts/make-base-image.sh: seedbox-base:local for the runtime,
# seedbox-base:local-build with npm and sh for the build stage), because the
# machines this runs on reach no image registry. SEEDBOX_BASE=official
# builds on the Dockerfile's defaults (the official Node 24 slim image)
# instead. Needs a running Docker daemon.
#
# Prints the image tag as its last line, for scripts and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

tag="${1:-seedbox:dev}"

if ! docker info >/dev/null 2>&1; then
  echo "build-images: cannot reach the Docker daemon (start dockerd, or set DOCKER_HOST)" >&2
  exit 1
fi

build_args=()
if [ "${SEEDBOX_BASE:-local}" = "local" ]; then
  scripts/make-base-image.sh seedbox-base:local >&2
  scripts/make-base-image.sh --build seedbox-base:local-build >&2
  build_args+=(--build-arg BASE_IMAGE=seedbox-base:local --build-arg BUILD_IMAGE=seedbox-base:local-build)
elif [ "${SEEDBOX_BASE}" != "official" ]; then
  echo "build-images: SEEDBOX_BASE must be local or official, not ${SEEDBOX_BASE}" >&2
  exit 1
fi

docker build "${build_args[@]}" -t "$tag" . >&2
docker run --rm "$tag" node -e 'process.stdout.write(`'"$tag"': node ${process.version}\n`)' >&2
echo "$tag"
