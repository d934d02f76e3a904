# syntax=docker/dockerfile:1
# appgrant: multi-stage image. The build stage runs the same install as .ci/run
# (`npm ci`, whose install scripts build the native addons, run `prisma generate`
# for SQLite and PostgreSQL and compile TypeScript); the runtime stage copies the
# result and never runs an install script again.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# better-sqlite3 and argon2 fall back to compiling from source when no prebuilt
# binary matches; that needs a toolchain the slim image lacks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# The npm the project is developed and tested with: it honours package.json
# "allowScripts" (which install scripts may run), older npm releases ignore it.
RUN npm install -g npm@11.19.1
WORKDIR /app
# npm ci's postinstall (prisma generate) needs the schema and prisma.config.ts,
# and its prepare script (the TypeScript build) needs the sources.
COPY package.json package-lock.json ./
COPY prisma.config.ts tsconfig.json tsconfig.build.json ./
COPY prisma ./prisma
COPY src ./src
RUN npm ci --no-audit --no-fund
# Keep only production dependencies. --ignore-scripts: nothing is installed here,
# and no lifecycle script may run again (prisma generate already produced
# dist/generated through the build).
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# The commit the image is built from, shown by GET /version:
# docker build --build-arg APPGRANT_COMMIT=$(git rev-parse HEAD) .
ARG APPGRANT_COMMIT
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    APPGRANT_COMMIT=${APPGRANT_COMMIT}
WORKDIR /app
# Owned by root and read-only to the service user: the process can write only its data.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma
# The SQLite database (DATABASE_URL defaults to file:./data/appgrant.db) and, unless
# APPGRANT_SECRET_KEY is set, the server key file live here. Created before VOLUME
# so a new volume inherits the ownership of the non-root user.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 3000
# Slim images have no curl; node's fetch does the probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form, no shell and no npm in between: node is PID 1 and receives docker stop's
# SIGTERM itself. It drains and exits within APPGRANT_SHUTDOWN_GRACE (default 8 s),
# before Docker's default 10 s stop timeout sends SIGKILL; raise both together
# (`docker stop -t`, `--stop-timeout`, Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
# The server applies pending migrations at start, then listens.
CMD ["node", "dist/main/server.js"]
