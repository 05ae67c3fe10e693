# portero: `docker build -t portero .`; configuration comes from the environment (see .env.example).
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so a source change does not reinstall them. tsx is a runtime dependency:
# portero runs its TypeScript directly (`npm start` = `tsx src/main.ts`); there is no build step.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Owned by root and not writable by the user that runs it.
COPY tsconfig.json ./
COPY providers ./providers
COPY src ./src

USER node
EXPOSE 3000
# No curl in the slim image: node's fetch does the probe. PORT is the one portero listens on.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 3000}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# `npm start` without npm in between: one process less to start and to pass SIGTERM through, so
# `docker stop` reaches portero's graceful shutdown (closing Redis) directly.
CMD ["node", "--import", "tsx", "src/main.ts"]
