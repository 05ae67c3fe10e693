import type { MiddlewareHandler } from 'hono';
import type { RateLimitRule } from '../config/types.js';
import { PorteroError, RATE_LIMITED } from '../errors.js';
import type { KeyValueStore, RateLimiter } from '../store/types.js';
import type { AppEnv } from './types.js';

/**
 * How many times one address's allowance an IPv6 /48 gets. One subscriber (a /64) gets the rule;
 * a site's whole allocation (a /56 is 256 /64s, a /48 65,536) gets this many, so that one attacker
 * with many /64s cannot start 120 logins a minute from each and fill the store, while a campus
 * behind one /48 still has room for 16 offices' worth of sign-ins.
 */
export const IPV6_NETWORK_FACTOR = 16;

/** One limit, counted by client address and, for IPv6, by the client's /48 as well. */
export interface ClientLimit {
  readonly address: RateLimiter;
  readonly network: RateLimiter;
}

/** The limit named `name` (RATE_LIMIT_<NAME>) on `store`, by address and by IPv6 network. */
export function clientLimit(store: Pick<KeyValueStore, 'rateLimiter'>, name: string, rule: RateLimitRule): ClientLimit {
  return {
    address: store.rateLimiter(name, rule),
    network: store.rateLimiter(`${name}-ipv6-48`, { points: rule.points * IPV6_NETWORK_FACTOR, duration: rule.duration }),
  };
}

/**
 * Counts each request against `limit` by the client's address (`clientAddress`), and an IPv6
 * client's /48 too, before the route runs: over either, `rate_limited` (429 with `Retry-After`, a
 * page with a way back, or JSON); the store unreachable, `store_unavailable` (503) like every other
 * route. No limit: off.
 */
export function rateLimit(name: string, limit: ClientLimit | undefined): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (limit) {
      const client = c.get('client');
      let decision = await limit.address.consume(client.limitKey);
      if (decision.allowed && client.networkKey !== undefined) decision = await limit.network.consume(client.networkKey);
      if (!decision.allowed) {
        throw new PorteroError(RATE_LIMITED, 'too many requests from this address', {
          retryAfter: decision.retryAfterSeconds,
          detail: { limit: name, client: client.address },
        });
      }
    }
    await next();
  };
}
