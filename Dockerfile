# One image for the three services; the command picks the service:
#
#   docker run seedbox:dev node services/peer-worker/dist/main.js
#   docker run seedbox:dev node services/disk-writer/dist/main.js
#   docker run seedbox:dev node services/tracker-client/dist/main.js
#   docker run seedbox:dev node packages/cli/bin/seedbox.js ls --server HOST:50051
#
# Both base images default to the official Node 24 LTS slim image. Where no
# registry can be reached, scripts/build-images.sh makes local ones from the
# host's node (scripts/make-base-image.sh) and passes them in:
#
#   docker build --build-arg BUILD_IMAGE=seedbox-base:local-build \
#                --build-arg BASE_IMAGE=seedbox-base:local -t seedbox:dev .
#
# The build stage needs node, npm and /bin/sh; the runtime stage needs only
# node. Only classic Dockerfile syntax is used (no RUN --mount, no heredocs),
# so the legacy builder works as well as BuildKit.
ARG BUILD_IMAGE=node:24-slim
ARG BASE_IMAGE=node:24-slim

# Just the package manifests, so that the `npm ci` layer below is reused
# until a dependency changes, not on every source edit.
FROM ${BUILD_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN ["node", "scripts/docker-workspace.mjs", "manifests", "/manifests"]

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY --from=manifests /manifests/ ./
# --ignore-scripts: no runtime dependency has a build step, and the dev-only
# native addons (utp-native, cpu-features, ...) would want a compiler that a
# slim image does not have.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && node scripts/docker-workspace.mjs collect /out

FROM ${BASE_IMAGE}
# RC4, which message stream encryption (MSE/PE) needs, is in OpenSSL 3's
# legacy provider; Node loads it only with this flag. A 4 MiB young
# generation, as the seedbox launcher has (packages/cli/bin/seedbox.js).
ENV NODE_ENV=production NODE_OPTIONS="--openssl-legacy-provider --max-semi-space-size=4"
WORKDIR /app
# Owned by root and not writable by the service user: with
# readOnlyRootFilesystem on Kubernetes the only writable paths are /tmp and
# the data volume anyway.
COPY --from=build /out/ ./
USER 10001:10001
# BitTorrent, gRPC, metrics/health, the web APIs (docs/OPERATIONS-CONTRACT.md).
EXPOSE 6881 50051 9464 8080
# The official image's entrypoint script is not needed: the command is node.
ENTRYPOINT []
CMD ["node", "packages/cli/bin/seedbox.js", "--help"]
