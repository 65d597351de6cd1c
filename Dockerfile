# syntax=docker/dockerfile:1
# The image the `k8s manifests` Job runs (docs/kubernetes.md): `dedup-lab cascade` as a non-root user.
#   docker build -t registry.example.org/lab/dedup-lab:0.1.0 . && docker push registry.example.org/lab/dedup-lab:0.1.0

# 1. dependencies only (native modules such as better-sqlite3 may compile here)
FROM node:22-bookworm-slim AS deps
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# 2. runtime: node, the production dependencies and the sources (tsx runs them; no build step)
FROM node:22-bookworm-slim
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY src ./src
COPY examples ./examples
# tsx keeps its transform cache in the temp dir: with a read-only root file system that is the Job's /tmp emptyDir
ENV NODE_ENV=production HOME=/tmp
USER 10001:10001
ENTRYPOINT ["node", "/app/bin/dedup-lab.js"]
CMD ["--help"]
