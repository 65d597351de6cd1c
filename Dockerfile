# syntax=docker/dockerfile:1
# The image the `k8s manifests` Job runs (docs/kubernetes.md): `dedup-lab cascade` as a non-root user.
#   docker build -t registry.example.org/lab/dedup-lab:0.1.0 . && docker push registry.example.org/lab/dedup-lab:0.1.0
# Without Docker or registry access: bash scripts/build-image.sh (buildah, an offline-made base image).
ARG BASE_IMAGE=node:24-bookworm-slim

# 1. the toolchain for native modules (better-sqlite3), shared by the two stages below
FROM ${BASE_IMAGE} AS toolchain
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
# node-gyp uses the base image's headers (/usr/local/include/node) instead of downloading them
ENV npm_config_nodedir=/usr/local
WORKDIR /app
COPY package.json package-lock.json ./

# 2. dist/: the full dependency set compiles src/ with esbuild (`prepare`); only dist/ leaves this stage
FROM toolchain AS build
# Only behind a TLS-inspecting proxy (scripts/build-image.sh passes the machine's CA bundle); an ARG never reaches the image
ARG NODE_EXTRA_CA_CERTS
COPY bin ./bin
COPY scripts/build.js ./scripts/build.js
COPY src ./src
RUN npm ci && npm cache clean --force

# 3. production dependencies only; --ignore-scripts because `prepare` needs the dev dependencies,
#    then the one allowed native build (better-sqlite3) runs
FROM toolchain AS deps
ARG NODE_EXTRA_CA_CERTS
RUN npm ci --omit=dev --ignore-scripts && npm rebuild better-sqlite3 && npm cache clean --force

# 4. runtime: node, the production dependencies and the compiled dist/ (no src/: bin runs dist/ as shipped)
FROM ${BASE_IMAGE}
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json ./
COPY bin ./bin
COPY examples ./examples
ENV NODE_ENV=production HOME=/tmp
USER 10001:10001
ENTRYPOINT ["node", "/app/bin/dedup-lab.js"]
CMD ["--help"]
