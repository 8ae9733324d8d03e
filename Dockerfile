# tsbeat: the Celery beat scheduler as a container.
#   docker build -t tsbeat .
#   podman build --format docker -t tsbeat .   (podman's default OCI format has no HEALTHCHECK and drops it)
#   docker run -v $PWD/beat.config.yaml:/config/beat.config.yaml -e BEAT_BROKER_URL=redis://redis:6379/0 tsbeat
# Another official Node image can be chosen with --build-arg NODE_IMAGE=…
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
# Entries are shown only to clients inside the container until a token is configured: mount a
# secret of NAME:TOKEN lines and set BEAT_API_TOKEN_FILE to it (docs/operations.md, "Who may do what").
ENV NODE_ENV=production \
    BEAT_CONFIG=/config/beat.config.yaml \
    BEAT_HTTP=0.0.0.0:9808
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# `beat` on the PATH; node runs as PID 1 and handles SIGTERM itself (finish the publish in
# flight, hand over the lock, exit 0), so no init wrapper is needed.
RUN chmod +x /app/dist/cli.js && ln -s /app/dist/cli.js /usr/local/bin/beat && mkdir -p /config
# Numeric (the official image's `node` user): with a user name, Kubernetes' runAsNonRoot cannot
# verify the user is not root and refuses to start the pod unless runAsUser is also set.
USER 1000:1000
EXPOSE 9808
# Probes the address the server really binds: $BEAT_HTTP (a wildcard host is probed on loopback).
# A fixed 127.0.0.1:9808 reported a healthy container unhealthy as soon as BEAT_HTTP was changed.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "const a = process.env.BEAT_HTTP || '127.0.0.1:9808'; const i = a.lastIndexOf(':'); let h = a.slice(0, i); if (h.startsWith('[')) h = h.slice(1, -1); if (h === '' || h === '0.0.0.0') h = '127.0.0.1'; if (h === '::') h = '::1'; fetch('http://' + (h.includes(':') ? '[' + h + ']' : h) + ':' + a.slice(i + 1) + '/healthz', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["beat"]
CMD ["run"]
