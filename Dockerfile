# syntax=docker/dockerfile:1.7
#
# One image for every GuitarOnline process: the six services, the gateway and the one-shot
# provisioner. Which one a container runs is chosen by SERVICE at run time
# (docker run -e SERVICE=booking …) or baked in at build time (--build-arg SERVICE=booking)
# for "one image per service" registries. See deploy/README.md.
#
#   docker build -t guitaronline:dev .
#   docker run --rm -e SERVICE=provision -e DATABASE_URL=… guitaronline:dev
#   docker run --rm -e SERVICE=gateway -p 8000:8000 guitaronline:dev

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------
# base: the Node runtime every stage builds on.
FROM ${NODE_IMAGE} AS base
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
WORKDIR /app

# ---------------------------------------------------------------------------------------
# manifests: only package.json of the root and of every workspace, plus the lockfile, so
# the two `npm ci` layers below are rebuilt only when dependencies change, not on every
# source edit, and a new workspace is picked up without editing this file.
FROM base AS manifests
COPY . /src
RUN cd /src \
 && find . -name node_modules -prune -o -name package.json -print \
    | xargs -r -I{} cp --parents {} /app/ \
 && cp package-lock.json /app/

# ---------------------------------------------------------------------------------------
# deps: every dependency (TypeScript and the test tools included), exactly as locked.
# Install scripts are skipped: nothing the build or the runtime uses needs one (the native
# add-ons with scripts belong to testcontainers' optional SSH support).
FROM base AS deps
COPY --from=manifests /app/ ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts

# ---------------------------------------------------------------------------------------
# build: `tsc -b` over the root project references, then a tree holding only what runs:
# each workspace's package.json and dist/ (no TypeScript sources, no tests).
FROM deps AS build
COPY . .
RUN npx tsc -b \
 && mkdir -p /out \
 && for pkg in shared/* services/* gateway; do \
      [ -f "$pkg/package.json" ] || continue; \
      if [ ! -d "$pkg/dist" ]; then echo "workspace $pkg has no dist/ after tsc -b: add it to tsconfig.json references" >&2; exit 1; fi; \
      mkdir -p "/out/$pkg" && cp -R "$pkg/package.json" "$pkg/dist" "/out/$pkg/"; \
      rm -f "/out/$pkg/dist/tsconfig.tsbuildinfo"; \
    done

# ---------------------------------------------------------------------------------------
# prod-deps: production dependencies only; workspaces become symlinks into /app/<pkg>.
FROM base AS prod-deps
COPY --from=manifests /app/ ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts

# ---------------------------------------------------------------------------------------
# runtime: what a container runs. Owned by root, run by the unprivileged `node` user, so
# the process cannot modify its own code (Kubernetes also mounts the root filesystem
# read-only). tini is PID 1: it forwards SIGTERM to node and reaps zombies, so the graceful
# shutdown in runService (drain HTTP, stop consumers and relay, close the pool) runs.
FROM base AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

ARG SERVICE=""
ENV NODE_ENV=production \
    SERVICE=${SERVICE} \
    HOST=0.0.0.0

COPY --from=prod-deps /app/ ./
COPY --from=build /out/ ./
COPY scripts/ ./scripts/
COPY deploy/docker/ ./deploy/docker/
RUN chmod 0555 deploy/docker/entrypoint.sh

# the image's `node` user (uid/gid 1000), numeric so Kubernetes can verify runAsNonRoot
USER 1000:1000

EXPOSE 8000 8001 8002 8003 8004 8005 8006

# Liveness of the process (GET /health on the service's port); /ready is for orchestrators
# that route traffic, see deploy/k8s. The provisioner reports healthy while it runs.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["node", "/app/deploy/docker/healthcheck.js"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["/app/deploy/docker/entrypoint.sh"]
