import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig, RedisTopology } from '../config/types.js';
import type { Logger } from '../logger.js';

/** Where to connect and how: a configuration's Redis part with its topology. A plain URL is a standalone server. */
export type RedisTarget = Pick<RedisConfig, 'username' | 'password' | 'tls'> & { readonly topology: RedisTopology };

/** Per command: an answer within a second, or the request gets its 503. */
const COMMAND_TIMEOUT_MS = 1000;
const CONNECT_TIMEOUT_MS = 2000;
/** Reconnects back off to at most this, so portero notices a returning Redis within two seconds. */
const MAX_BACKOFF_MS = 2000;
const backoff = (attempt: number) => Math.min(attempt * 200, MAX_BACKOFF_MS);

/**
 * What every connection to a data node gets, on every topology: fail fast (no offline queue, one
 * retry, a command timeout) rather than queue while Redis is away, and the credentials and TLS.
 */
function nodeOptions(target: Omit<RedisTarget, 'topology'>): RedisOptions {
  const { tls } = target;
  return {
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(tls.enabled ? { tls: { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}) } } : {}),
  };
}

/**
 * A master demoted to a replica (a Sentinel failover while this connection stayed up) refuses
 * writes with READONLY: reconnect, and the sentinels name the new master.
 */
const reconnectOnReadonly = (err: Error) => err.message.startsWith('READONLY');

function build(target: RedisTarget): Redis | Cluster {
  const { topology } = target;
  const node = nodeOptions(target);
  switch (topology.kind) {
    case 'standalone':
      return new Redis({
        ...node,
        host: topology.host,
        port: topology.port,
        db: topology.db,
        enableOfflineQueue: false,
        retryStrategy: backoff,
      });
    case 'sentinel':
      return new Redis({
        ...node,
        sentinels: topology.sentinels.map(({ host, port }) => ({ host, port })),
        name: topology.name,
        ...(topology.sentinelPassword ? { sentinelPassword: topology.sentinelPassword } : {}),
        sentinelCommandTimeout: COMMAND_TIMEOUT_MS,
        sentinelRetryStrategy: backoff,
        // Not ioredis's failoverDetector (+switch-master): its disconnect, arriving while the
        // connector waits to retry the sentinels, ends the client for good (status "end", seen in
        // test/failover). The bounded backoff finds the new master within two seconds anyway.
        enableTLSForSentinelMode: target.tls.enabled,
        enableOfflineQueue: false,
        retryStrategy: backoff,
        reconnectOnError: reconnectOnReadonly,
      });
    case 'cluster':
      return new Cluster(
        topology.nodes.map(({ host, port }) => ({ host, port })),
        {
          redisOptions: node,
          enableOfflineQueue: false,
          clusterRetryStrategy: backoff,
          scaleReads: 'master',
          slotsRefreshTimeout: COMMAND_TIMEOUT_MS,
          // While a replica is being promoted, a command is retried a few times (MOVED, CLUSTERDOWN,
          // a closed connection), about a second in all, then fails as Redis unreachable.
          retryDelayOnFailover: 200,
          retryDelayOnClusterDown: 200,
          retryDelayOnTryAgain: 200,
          maxRedirections: 5,
        },
      );
  }
}

/**
 * A client tuned for a request path: when Redis is down or paused, commands fail within about a
 * second (and the request gets a 503) instead of queueing forever; reconnection goes on in the
 * background, with a backoff bounded at two seconds, so the gateway recovers by itself when Redis
 * (or, after a failover, the new master) answers. A string is a standalone server's URL.
 */
export function createRedisClient(target: string, logger: Logger): Redis;
export function createRedisClient(target: string | RedisTarget, logger: Logger): Redis | Cluster;
export function createRedisClient(target: string | RedisTarget, logger: Logger): Redis | Cluster {
  const client =
    typeof target === 'string'
      ? new Redis(target, { ...nodeOptions({ tls: { enabled: false } }), enableOfflineQueue: false, retryStrategy: backoff })
      : build(target);
  const where = typeof target === 'string' ? redactedUrl(target) : describeTarget(target);
  let healthy = true;
  client.on('ready', () => {
    if (!healthy) logger.info({ redis: where }, 'redis reachable again');
    healthy = true;
  });
  const down = (err: Error) => {
    // ioredis emits an error per failed reconnect; log the transition, not each attempt.
    if (healthy) logger.error({ redis: where, err: err.message }, 'redis unreachable');
    healthy = false;
  };
  client.on('error', down);
  if (client instanceof Cluster) {
    // One node down (a master before its replica takes over) is not the whole cluster down.
    // Logged once per node until it is back in the cluster's pool, not once per retry.
    const failing = new Set<string>();
    client.on('node error', (err: Error, address: string) => {
      if (failing.has(address)) return;
      failing.add(address);
      logger.warn({ redis: where, node: address, err: err.message }, 'redis cluster node unreachable');
    });
    client.on('+node', (redis: Redis) => failing.delete(`${redis.options.host}:${redis.options.port}`));
  }
  return client;
}

/** The target for logs: topology and addresses, the user name, never a password. */
export function describeTarget(target: RedisTarget): string {
  const { topology } = target;
  const user = target.username ? `${target.username}@` : '';
  switch (topology.kind) {
    case 'standalone':
      return `${target.tls.enabled ? 'rediss' : 'redis'}://${user}${topology.host.includes(':') ? `[${topology.host}]` : topology.host}:${topology.port}/${topology.db}`;
    case 'sentinel':
      return `sentinel master ${topology.name} via ${topology.sentinels.map(({ host, port }) => `${host}:${port}`).join(',')}${user ? ` as ${target.username}` : ''}`;
    case 'cluster':
      return `cluster via ${topology.nodes.map(({ host, port }) => `${host}:${port}`).join(',')}${user ? ` as ${target.username}` : ''}`;
  }
}

/** The URL without its password, for logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'redis://(unparseable)';
  }
}
