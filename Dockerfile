# syntax=docker/dockerfile:1

# ---- build: compile TypeScript with the dev dependencies, then drop them ----
FROM node:20-bookworm-slim AS build
WORKDIR /app

# `npm ci` runs the `prepare` script (tsc -p tsconfig.build.json), so the compiler
# configs and every compiled source tree must be present before it runs.
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY aggregators ./aggregators
# The build also bundles the browser monitor snippet (sdk/) and the dashboard (src/dashboard/web).
COPY sdk ./sdk
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -f dist/.tsbuildinfo dist/.tsbuildinfo.build

# ---- runtime: production dependencies and compiled output only ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000
WORKDIR /app

# Owned by root and only readable by `node`: the process cannot rewrite its own code.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
# dist/ holds both dist/src and the compiled rollups under dist/aggregators.
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY schema ./schema

USER node
# An image run on its own (no services, no ROLLGATE_MASTER_KEY) keeps its generated master key where `node` may write.
ENV ROLLGATE_DATA_DIR=/home/node/.rollgate
EXPOSE 4000

# Only `serve` listens on HTTP; the compose file turns this check off for `aggregate`.
# The slim image has no curl, so Node's own fetch does the probe.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["node", "bin/rollgate.js"]
CMD ["serve"]
