# syntax=docker/dockerfile:1.7
# One image for both services: `node services/api/dist/main.js` (the default) or
# `node services/dispatcher/dist/main.js`. Node 24 is an LTS line; change NODE_VERSION to move.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS base
ENV PNPM_HOME=/pnpm \
    PATH=/pnpm:$PATH \
    CI=true
RUN npm install --global --no-fund --no-audit pnpm@10.34.9
WORKDIR /app

# Dependencies from the lockfile alone, so this layer survives source changes.
FROM base AS deps
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store pnpm fetch --store-dir /pnpm/store

FROM deps AS build
COPY . .
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store \
    pnpm install --offline --frozen-lockfile --store-dir /pnpm/store \
 && pnpm build \
 && rm -rf node_modules packages/*/node_modules services/*/node_modules \
 && pnpm install --offline --frozen-lockfile --prod --ignore-scripts --store-dir /pnpm/store \
 && rm -rf packages/*/src services/*/src services/*/test test scripts/*.sh .ci

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=80
WORKDIR /app
COPY --from=build --chown=node:node /app /app
# Unprivileged: Docker lets non-root processes bind port 80 inside the container's network
# namespace (net.ipv4.ip_unprivileged_port_start=0, set again in docker-compose.yml).
USER node
EXPOSE 80 3001
STOPSIGNAL SIGTERM
CMD ["node", "services/api/dist/main.js"]
