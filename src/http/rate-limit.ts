import type { MiddlewareHandler } from 'hono';
import { PorteroError, RATE_LIMITED } from '../errors.js';
import type { RateLimiter } from '../store/types.js';
import type { AppEnv } from './types.js';

/**
 * Counts each request against `limiter` by the client's address (`clientAddress`), before the route
 * runs: over the limit, `rate_limited` (429 with `Retry-After`, a page with a way back, or JSON); the
 * store unreachable, `store_unavailable` (503) like every other route. No limiter: limit off.
 */
export function rateLimit(name: string, limiter: RateLimiter | undefined): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (limiter) {
      const decision = await limiter.consume(c.get('client').limitKey);
      if (!decision.allowed) {
        throw new PorteroError(RATE_LIMITED, 'too many requests from this address', {
          retryAfter: decision.retryAfterSeconds,
          detail: { limit: name, client: c.get('client').address },
        });
      }
    }
    await next();
  };
}
