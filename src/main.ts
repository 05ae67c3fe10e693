import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { systemClock } from './clock.js';
import { readEnv } from './config/env.js';
import { parseConfig } from './config/parse.js';
import type { Config } from './config/types.js';
import { startDevIdp, type DevIdp } from './dev/idp.js';
import { callbackUrl } from './flow/login.js';
import { configureProviders } from './flow/providers.js';
import { createLogger, type Logger } from './logger.js';
import { MemoryStore } from './store/memory.js';
import { createRedisClient, redactedUrl } from './store/redis-client.js';
import { RedisStore } from './store/redis.js';
import type { Store } from './store/types.js';
import { ephemeralKeySet, loadKeyFile, type KeySet } from './tokens/keys.js';

function readConfig(): Config {
  try {
    return parseConfig(readEnv());
  } catch (err) {
    // A ConfigError lists every problem; an unreadable ENV_FILE is a plain Error. Neither is a crash.
    console.error(`portero cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
}

/** The signing keys, read before anything starts: a bad JWT_KEYS file is refused like bad configuration. */
async function readKeys(config: Config): Promise<KeySet> {
  try {
    return config.jwtKeysFile ? await loadKeyFile(config.jwtKeysFile, config.jwtAlg) : await ephemeralKeySet(config.jwtAlg);
  } catch (err) {
    console.error(`portero cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
}

const REDIS_START_WAIT_MS = 5000;

/**
 * The store. With Redis, waits (a few seconds at most) for the first connection, so the first
 * requests are not refused while it is being made; if Redis is down, portero starts anyway,
 * not ready (/readyz 503), and connects when Redis comes.
 */
async function openStore(config: Config, logger: Logger): Promise<Store> {
  if (config.redisUrl) {
    logger.info({ redis: redactedUrl(config.redisUrl) }, 'store: redis');
    const client = createRedisClient(config.redisUrl, logger);
    // Not events.once(): it rejects on the first 'error', and a refused connection is not fatal here.
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        client.off('ready', onReady);
        resolve(false);
      }, REDIS_START_WAIT_MS).unref();
      const onReady = () => {
        clearTimeout(timer);
        resolve(true);
      };
      client.once('ready', onReady);
    });
    if (!connected) logger.warn({ waited_ms: REDIS_START_WAIT_MS }, 'redis not reachable yet; starting unready, will keep trying');
    return new RedisStore(client);
  }
  logger.warn('store: in-memory (REDIS_URL unset); it serves ONE instance only: logins fail across instances');
  return new MemoryStore(systemClock);
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel, undefined, config.instanceName);
  if (config.mode === 'development') {
    logger.warn(
      '*** DEVELOPMENT MODE *** (NODE_ENV is not production): ephemeral keys and cookie secret where unset, in-memory store without REDIS_URL, a built-in IdP without providers. Do not expose this.',
    );
  }

  const keys = await readKeys(config);
  let devIdp: DevIdp | undefined;
  const providerSettings = [...config.providers];
  if (config.devIdp) {
    devIdp = await startDevIdp({ redirectUri: callbackUrl(config.publicUrl, 'dev'), port: config.devIdpPort });
    providerSettings.push(devIdp.settings);
    logger.warn({ issuer: devIdp.issuer }, 'built-in development IdP started as provider "dev": any user name signs in');
  }

  if (!config.jwtKeysFile)
    logger.warn({ kid: keys.signing.kid }, 'JWT_KEYS unset: signing with an ephemeral key; tokens stop verifying on restart');
  if (config.cookieSecretGenerated) logger.warn('COOKIE_SECRET unset: using a random one; logins in flight fail on restart');

  const store = await openStore(config, logger);
  const providers = configureProviders(providerSettings);
  const app = createApp({ config, store, keys, providers, logger, clock: systemClock });

  // Discover providers now so the first login is fast and a wrong issuer shows in the log at once;
  // a failure here is not fatal: discovery is retried by the next login.
  for (const provider of providers.values()) {
    provider
      .client()
      .catch((err: Error) => logger.warn({ provider: provider.id, reason: err.message }, 'provider discovery failed; will retry'));
  }

  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    logger.info(
      { address: info.address, port: info.port, public_url: config.publicUrl, providers: [...providers.keys()] },
      'portero listening',
    );
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server.close(async () => {
      await store.close();
      await devIdp?.close();
      process.exit(0);
    });
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
