import { parseArgs } from 'node:util';
import { porteroVersion } from './version.js';

/** What `npm start -- --help` prints: what portero is, how it is run and configured, and where every setting is. */
export const START_USAGE = `portero: an OAuth 2.0 / OpenID Connect authentication gateway. It signs people in at your
providers (Google, GitHub, Entra ID, Keycloak, any OIDC or OAuth 2.0 server), keeps each login in
Redis, and hands your apps a signed JWT: a cookie, and GET /auth for nginx auth_request, Traefik
forwardAuth and Caddy forward_auth.

Usage:
  npm start                  build dist/, then run the gateway (node dist/main.js)
  npm start -- --help        this text (node dist/main.js --help)
  npm start -- --version     portero's version
  npm run check-config       check the configuration as start-up reads it, the key file, Redis and
                             every provider; prints a table, exit 0 (good) or 1
  npm run keys               write the signing key file that JWT_KEYS names

Configuration comes from the environment, over a .env file in the working directory (ENV_FILE
names another). The main settings:
  NODE_ENV=production        production; unset is development, which makes up what is missing
                             (ephemeral key, random cookie secret, in-memory store, a built-in IdP)
  PUBLIC_URL                 the https address browsers reach portero at
  COOKIE_SECRET              at least 32 characters (openssl rand -base64 48)
  JWT_KEYS                   the key file written by npm run keys
  REDIS_URL                  redis://host:6379 (or REDIS_SENTINELS, REDIS_CLUSTER_NODES)
  PROVIDER_<ID>_CLIENT_ID, PROVIDER_<ID>_CLIENT_SECRET, PROVIDER_<ID>_TYPE
                             a provider, as registered with it; callback: PUBLIC_URL/callback/<id>
  PORT, HOST                 where it listens (3000)
Every setting, with its default: the Configuration table of README.md, and .env.example.

Signals: SIGTERM or SIGINT stops it gracefully (no new connections, Redis closed; exit 0 within
5 seconds). GET /healthz answers while it runs, GET /readyz while its store answers too.
`;

/** What to do instead of starting: the text to print, where, and the exit code. */
export interface EarlyExit {
  readonly code: 0 | 2;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

/**
 * `node dist/main.js [--help | --version]`, read before anything else: no argument starts the
 * gateway (undefined); `--help` and `--version` print and exit 0 without reading configuration;
 * anything else is a mistake, told in one line with a hint, exit 2.
 */
export function startArgs(argv: readonly string[]): EarlyExit | undefined {
  if (argv.length === 0) return undefined;
  let values: { help?: boolean; version?: boolean };
  try {
    values = parseArgs({
      args: [...argv],
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? 'unknown argument';
    return { code: 2, stream: 'stderr', text: `portero: ${message}\nusage: npm start [-- --help | --version]\n` };
  }
  if (values.help) return { code: 0, stream: 'stdout', text: START_USAGE };
  return { code: 0, stream: 'stdout', text: `portero ${porteroVersion()}\n` };
}
