import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { createApp, createMetricsApp } from './app.js';
import { startArgs } from './cli/start-args.js';
import { systemClock } from './clock.js';
import { readEnv } from './config/env.js';
import { publicMetricsWarning } from './config/metrics.js';
import { parseConfig } from './config/parse.js';
import type { Config } from './config/types.js';
import { captureProviderNotices } from './dev/console-notices.js';
import type { DevIdp } from './dev/idp.js';
import { callbackUrl } from './flow/login.js';
import { configureProviders, providerOptions } from './flow/provider-client.js';
import { signedOutUrl } from './http/routes/logout.js';
import { createLogger, prettyDestination, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import type { ProviderSettings } from './providers/index.js';
import { Shutdown } from './shutdown.js';
import { connectStore } from './store/connect.js';
import { KeyRing } from './tokens/key-ring.js';
import { KeyFileReloader } from './tokens/key-reload.js';
import { configuredKeySet, type KeySet } from './tokens/keys.js';

/** A configuration or key file refused: one line on stderr, exit 1, never a stack trace. */
function cannotStart(err: unknown): never {
  // A ConfigError lists every problem; an unreadable ENV_FILE or JWT_KEYS is a plain Error. Neither is a crash.
  console.error(`portero cannot start: ${(err as Error).message}`);
  process.exit(1);
}

function readConfig(): Config {
  try {
    return parseConfig(readEnv());
  } catch (err) {
    cannotStart(err);
  }
}

/**
 * The signing keys, read before anything starts: a bad JWT_KEYS file is refused like bad
 * configuration, and so is one without an RS256 key while apps are configured (APP_*): portero's
 * OpenID Provider signs their tokens with it. Without JWT_KEYS (development), an ephemeral RS256
 * key is made beside the signing key for them.
 */
async function readKeys(config: Config): Promise<KeySet> {
  try {
    return await configuredKeySet(config);
  } catch (err) {
    cannotStart(err);
  }
}

/** The configured providers, and the built-in development IdP as `dev` when development mode has none. */
async function providerSettings(config: Config, logger: Logger): Promise<{ settings: ProviderSettings[]; devIdp?: DevIdp }> {
  if (!config.dev.idp) return { settings: [...config.providers] };
  // Loaded only here: production never imports the development IdP (nor oidc-provider under it).
  const { startDevIdp } = await import('./dev/idp.js');
  const devIdp = await startDevIdp({
    redirectUri: callbackUrl(config.server.publicUrl, 'dev'),
    postLogoutRedirectUri: signedOutUrl(config.server.publicUrl),
    port: config.dev.idpPort,
    // oidc-provider's quick-start notices (in-memory adapter, devInteractions), as log lines rather than plain text.
    onNotice: (level, message) => logger.debug({ event: 'dev_idp_notice', notice_level: level }, `development IdP: ${message}`),
  });
  logger.warn(
    { issuer: devIdp.issuer },
    'built-in development IdP started as provider "dev": any user name signs in (its quick-start notices are logged at debug level)',
  );
  return { settings: [...config.providers, devIdp.settings], devIdp };
}

/**
 * The OpenID Provider's notices (oidc-provider writes them on the console) as log lines. The one it
 * is sure to write, about the token endpoint's body that portero read first (to count
 * RATE_LIMIT_TOKEN by client_id), is expected: debug. Any other keeps its level.
 */
function logProviderNotices(logger: Logger): void {
  captureProviderNotices((level, message) => {
    const expected = message.startsWith('already parsed request body detected');
    logger[expected ? 'debug' : level]({ event: 'openid_provider_notice', notice_level: level }, `OpenID Provider: ${message}`);
  });
}

/** What development mode made up where production would refuse to start, said loudly. */
function warnAboutDevelopment(config: Config, keys: KeySet, logger: Logger): void {
  if (config.mode === 'development') {
    logger.warn(
      '*** DEVELOPMENT MODE *** (NODE_ENV is not production): ephemeral keys and cookie secret where unset, in-memory store without REDIS_URL, a built-in IdP without providers. Do not expose this.',
    );
  }
  if (!config.tokens.keysFile) {
    // With apps, the ephemeral RS256 key beside it (src/tokens/keys.ts), which signs theirs.
    const rsa = keys.rsaKid !== undefined && keys.rsaKid !== keys.signing.kid ? { rsa_kid: keys.rsaKid } : {};
    logger.warn({ kid: keys.signing.kid, ...rsa }, 'JWT_KEYS unset: signing with an ephemeral key; tokens stop verifying on restart');
  }
  if (config.cookies.secretGenerated) logger.warn('COOKIE_SECRET unset: using a random one; logins in flight fail on restart');
}

/** With METRICS_PORT set, `/metrics` on a server of its own, on METRICS_HOST (HOST by default). */
function serveMetrics(config: Config, metrics: Metrics, logger: Logger): ReturnType<typeof serve> | undefined {
  const { port, host } = config.metrics;
  if (port === undefined) return undefined;
  const server = serve({ fetch: createMetricsApp(metrics).fetch, port, hostname: host }, (info) => {
    logger.info({ address: info.address, port: info.port }, 'metrics listening');
  });
  // A port taken is a start-up failure, said in one line, as a refused configuration is.
  server.once('error', (err) => cannotStart(new Error(`METRICS_PORT ${port} on ${host}: ${(err as Error).message}`)));
  return server;
}

/**
 * SIGHUP, and a change to the JWT_KEYS file, read the keys again and put them in use without a
 * restart; a file that would be refused at start (one without an RS256 key while apps are
 * configured too) is refused with a warning, and the keys stay.
 */
function reloadKeys(config: Config, ring: KeyRing, logger: Logger): KeyFileReloader | undefined {
  const { keysFile, alg } = config.tokens;
  const forApps = config.apps.length > 0;
  const reloader = keysFile ? new KeyFileReloader({ path: keysFile, alg, forApps, ring, logger }).watch() : undefined;
  process.on('SIGHUP', () => {
    if (reloader) void reloader.reload('SIGHUP');
    else
      logger.warn({ event: 'keys_reload_refused', trigger: 'SIGHUP' }, 'SIGHUP: JWT_KEYS is unset (an ephemeral key): nothing to reload');
  });
  return reloader;
}

async function main(): Promise<void> {
  // --help, --version or a mistaken argument: answered before any configuration is read.
  const early = startArgs(process.argv.slice(2));
  if (early) {
    process[early.stream].write(early.text, () => process.exit(early.code));
    return;
  }
  const config = readConfig();
  const destination = config.log.format === 'pretty' ? prettyDestination() : undefined;
  const logger = createLogger(config.log.level, destination, config.log.instanceName);
  const keys = await readKeys(config);
  warnAboutDevelopment(config, keys, logger);
  for (const warning of config.warnings) logger.warn({ event: 'setting_misspelled' }, warning);
  const metricsWarning = publicMetricsWarning(config);
  if (metricsWarning) logger.warn({ event: 'metrics_on_public_port' }, metricsWarning);
  const { settings, devIdp } = await providerSettings(config, logger);
  if (config.apps.length > 0) logProviderNotices(logger);

  const connection = await connectStore(config.redis, logger);
  const providers = configureProviders(settings, { ...providerOptions(config), clock: systemClock });
  // The one registry of the process with the process metrics (CPU, memory, event loop, GC).
  const metrics = new Metrics({ processMetrics: true });
  const ring = new KeyRing(keys);
  const shutdown = new Shutdown({ timeout: config.server.shutdownTimeout, logger });
  const draining = () => shutdown.draining;
  const app = createApp({ config, store: connection.store, keys: ring, providers, logger, clock: systemClock, metrics, draining });
  const reloader = reloadKeys(config, ring, logger);

  // Discover providers now so the first login is fast and a wrong issuer shows in the log at once;
  // a failure here is not fatal: discovery is retried by the next login.
  for (const provider of providers.values()) {
    provider
      .client()
      .catch((err: Error) => logger.warn({ provider: provider.id, reason: err.message }, 'provider discovery failed; will retry'));
  }

  const { port, host, publicUrl } = config.server;
  const server = serve({ fetch: app.fetch, port, hostname: host }, (info) => {
    logger.info({ address: info.address, port: info.port, public_url: publicUrl, providers: [...providers.keys()] }, 'portero listening');
  });
  const metricsServer = serveMetrics(config, metrics, logger);

  // Requests in flight finish (within SHUTDOWN_TIMEOUT), then the store and the development IdP close.
  shutdown
    .track(server as Server, [
      () => reloader?.close(),
      async () => void metricsServer?.close(),
      () => connection.close(),
      async () => devIdp?.close(),
    ])
    .onSignals();
}

await main();
