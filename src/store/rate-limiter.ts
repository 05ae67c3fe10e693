import type { Cluster, Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimitRule } from '../config/types.js';
import { PorteroError, STORE_UNAVAILABLE } from '../errors.js';
import type { RateLimiter } from './types.js';

/** rate-limiter-flexible's limiter behind portero's small interface: a refusal is an answer, a store failure an error. */
function wrap(name: string, limiter: RateLimiterAbstract): RateLimiter {
  return {
    async consume(key) {
      try {
        await limiter.consume(key);
        return { allowed: true };
      } catch (outcome) {
        // The library rejects with a RateLimiterRes when the limit is reached, with an Error when Redis fails.
        if (outcome instanceof RateLimiterRes) {
          return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(outcome.msBeforeNext / 1000)) };
        }
        // A full Redis (noeviction) refuses the count but still answers: what the limit protects, the
        // store's memory, cannot grow anyway, and a callback of a login in flight, which only consumes
        // its flow, should still finish. Anything else (Redis unreachable) is the usual 503.
        if (outcome instanceof Error && outcome.message.startsWith('OOM ')) return { allowed: true };
        throw new PorteroError(STORE_UNAVAILABLE, `rate limit ${name} could not be counted`, { cause: outcome });
      }
    },
  };
}

/**
 * A limiter counting in Redis under `keyPrefix` (the store's prefix and the limit's namespace).
 * Once an address is over its limit, this instance also refuses it from memory until the window
 * ends (`inMemoryBlockOnConsumed`), so a flood costs Redis one round trip, not one per request.
 */
export function redisRateLimiter(client: Redis | Cluster, keyPrefix: string, name: string, rule: RateLimitRule): RateLimiter {
  return wrap(
    name,
    new RateLimiterRedis({
      storeClient: client,
      keyPrefix,
      points: rule.points,
      duration: rule.duration,
      inMemoryBlockOnConsumed: rule.points + 1,
    }),
  );
}

/** The same limits for the memory store (one instance). */
export function memoryRateLimiter(keyPrefix: string, name: string, rule: RateLimitRule): RateLimiter {
  return wrap(name, new RateLimiterMemory({ keyPrefix, points: rule.points, duration: rule.duration }));
}
