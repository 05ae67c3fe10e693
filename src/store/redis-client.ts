import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/**
 * A client tuned for a request path: when Redis is down or paused, commands fail within about a
 * second (and the request gets a 503) instead of queueing forever; reconnection goes on in the
 * background, so the gateway recovers by itself when Redis returns.
 */
export function createRedisClient(url: string, logger: Logger): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  const where = redactedUrl(url);
  let healthy = true;
  client.on('ready', () => {
    if (!healthy) logger.info({ redis: where }, 'redis reachable again');
    healthy = true;
  });
  client.on('error', (err: Error) => {
    // ioredis emits an error per failed reconnect; log the transition, not each attempt.
    if (healthy) logger.error({ redis: where, err: err.message }, 'redis unreachable');
    healthy = false;
  });
  return client;
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
