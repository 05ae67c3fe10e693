import type { EnvReader } from './reader.js';
import type { RateLimitConfig, RateLimitRule } from './types.js';

/**
 * The defaults a person never meets and a script does: an office behind one NAT address where a
 * hundred people sign in within a minute passes; a flood of hundreds a second is refused after
 * the first 120, so it writes at most 120 flows a minute to the store.
 */
const DEFAULT_RATE_LIMITS: Required<RateLimitConfig> = {
  login: { points: 120, duration: 60 },
  callback: { points: 120, duration: 60 },
  refresh: { points: 120, duration: 60 },
  // An app's servers exchange every user's code and refresh tokens from one address: per client_id.
  token: { points: 600, duration: 60 },
};

const RULE = /^(\d+)\/(\d+)s$/;

/** `<count>/<seconds>s` (`120/60s`), or `off`. */
function readRateLimit(reader: EnvReader, name: string, fallback: RateLimitRule): RateLimitRule | undefined {
  const raw = reader.text(name);
  if (raw === undefined) return fallback;
  if (raw.toLowerCase() === 'off') return undefined;
  const match = RULE.exec(raw);
  const points = Number(match?.[1]);
  const duration = Number(match?.[2]);
  if (!match || points < 1 || points > 1_000_000 || duration < 1 || duration > 86_400) {
    reader.problem(
      `${name} must be <count>/<seconds>s (like 120/60s; count 1 to 1000000, seconds 1 to 86400) or off, got ${JSON.stringify(raw)}`,
    );
    return fallback;
  }
  return { points, duration };
}

/** RATE_LIMIT_LOGIN, _CALLBACK and _REFRESH per client address; RATE_LIMIT_TOKEN per app (with its secret), else per address. A limit set to `off` is absent. */
export function rateLimits(reader: EnvReader): RateLimitConfig {
  const login = readRateLimit(reader, 'RATE_LIMIT_LOGIN', DEFAULT_RATE_LIMITS.login);
  const callback = readRateLimit(reader, 'RATE_LIMIT_CALLBACK', DEFAULT_RATE_LIMITS.callback);
  const refresh = readRateLimit(reader, 'RATE_LIMIT_REFRESH', DEFAULT_RATE_LIMITS.refresh);
  const token = readRateLimit(reader, 'RATE_LIMIT_TOKEN', DEFAULT_RATE_LIMITS.token);
  return {
    ...(login ? { login } : {}),
    ...(callback ? { callback } : {}),
    ...(refresh ? { refresh } : {}),
    ...(token ? { token } : {}),
  };
}
