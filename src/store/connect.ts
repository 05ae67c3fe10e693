import type { Cluster, Redis } from 'ioredis';
import { type Clock, systemClock } from '../clock.js';
import type { RedisConfig } from '../config/types.js';
import type { Logger } from '../logger.js';
import { EvictionGuard } from './eviction.js';
import { MemoryStore } from './memory.js';
import { createRedisClient, describeTarget } from './redis-client.js';
import { RedisStore } from './redis.js';
import type { KeyValueStore } from './types.js';

/** The store portero runs on, and the connection under it, which only this closes. */
export interface StoreConnection {
  readonly store: KeyValueStore;
  /** Closes the store, then the connection. */
  close(): Promise<void>;
}

/** Resolves true once `client` is ready, false after `seconds` (0: at once) if it is not. */
function readyWithin(client: Redis | Cluster, seconds: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  // Not events.once(): it rejects on the first 'error', and a refused connection is not fatal here.
  return new Promise<boolean>((resolve) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, seconds * 1000).unref();
    client.once('ready', onReady);
  });
}

/**
 * The store the configuration names: Redis (one server, a Sentinel-watched master, or a Cluster)
 * when its topology is set, else memory (one instance only, warned). With Redis, waits up to REDIS_STARTUP_WAIT seconds for the first connection, so the first
 * requests are not refused while it is being made; if Redis is down, portero starts anyway, not
 * ready (/readyz 503), and connects when Redis comes. On every connection it reads whether Redis
 * may evict portero's keys, and while it may, the store refuses to serve unless
 * REDIS_ALLOW_EVICTION accepts it (see `EvictionGuard`).
 */
export async function connectStore(config: RedisConfig, logger: Logger, clock: Clock = systemClock): Promise<StoreConnection> {
  const { topology } = config;
  if (!topology) {
    logger.warn(
      'store: in-memory (no REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES); it serves ONE instance only: logins fail across instances',
    );
    const store = new MemoryStore(clock);
    return { store, close: () => store.close() };
  }
  const target = { ...config, topology };
  logger.info({ redis: describeTarget(target), topology: topology.kind }, 'store: redis');
  const client = createRedisClient(target, logger);
  if (!(await readyWithin(client, config.startupWait))) {
    logger.warn({ waited_ms: config.startupWait * 1000 }, 'redis not reachable yet; starting unready, will keep trying');
  }
  const guard = new EvictionGuard(client, { allowEviction: config.allowEviction, logger });
  // The first connection's 'ready' came before the guard listened: its check is made here.
  if (client.status === 'ready') await guard.check();
  const store = new RedisStore(client, { clock, refusal: () => guard.refusal() });
  return {
    store,
    async close() {
      guard.stop();
      await store.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}
