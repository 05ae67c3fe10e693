# portero: `docker build -t portero .`; configuration comes from the environment (see .env.example).
#
# Two stages: the first installs every dependency and compiles (tsc type-checks as it emits, and
# emits nothing on a type error, so a broken tree never becomes an image); the second holds only
# the production dependencies and the compiled JavaScript, no TypeScript and no compiler.

FROM node:24-bookworm-slim AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim
# Every address of the container: its loopback reaches nothing outside it, not even a published
# port. Development mode (NODE_ENV=development) would otherwise listen on loopback only.
ENV NODE_ENV=production HOST=0.0.0.0
# A smaller young generation and an explicit heap limit keep the process near 100 MB after load
# instead of about 175 (docs/OPERATIONS.md, "Memory of the process"); replace to trade back.
ENV NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=512"
WORKDIR /app
# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# Owned by root and not writable by the user that runs it.
COPY --from=build /build/dist ./dist

USER node
EXPOSE 3000
# No curl in the slim image: node's fetch does the probe. PORT is the one portero listens on.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 3000}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself, not `npm start` (which would build first, and needs the compiler): one process, so
# `docker stop` reaches portero's graceful shutdown (closing Redis) directly. Signing keys inside
# the image: `docker run --rm -v "$PWD:/keys" -w /keys portero node /app/dist/cli/keys.js`.
# Checking a configuration before a deploy: `docker run --rm --env-file .env portero node dist/cli/check-config.js`.
CMD ["node", "dist/main.js"]
