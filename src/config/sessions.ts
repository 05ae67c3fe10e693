import type { EnvReader } from './reader.js';
import type { CookieConfig, SessionConfig, TokenConfig } from './types.js';

const MIN_KEY_LENGTH = 32;
const DAY = 24 * 3600;

/**
 * SESSION_TTL, SESSION_IDLE_TTL, SESSIONS_PER_USER and SESSION_KEY. A token lives JWT_TTL and is
 * renewed while its session lives, so the idle limit must leave a token time to be renewed
 * (at least JWT_TTL) and the absolute limit must hold the idle one. The defaults grow with a
 * long JWT_TTL rather than refuse it.
 */
export function sessions(reader: EnvReader, tokens: TokenConfig, cookies: CookieConfig): SessionConfig {
  const idleTtl = reader.integer('SESSION_IDLE_TTL', Math.max(DAY, tokens.ttl), 60, 365 * DAY);
  const ttl = reader.integer('SESSION_TTL', Math.max(7 * DAY, idleTtl), 60, 365 * DAY);
  if (idleTtl < tokens.ttl) {
    reader.problem(
      `SESSION_IDLE_TTL (${idleTtl}) must be at least JWT_TTL (${tokens.ttl}): a token must be renewable before the session falls idle`,
    );
  }
  if (ttl < idleTtl) reader.problem(`SESSION_TTL (${ttl}) must be at least SESSION_IDLE_TTL (${idleTtl})`);
  const key = reader.raw('SESSION_KEY');
  // By name, never the value: this message is logged.
  if (key !== undefined && key.length < MIN_KEY_LENGTH)
    reader.problem(`SESSION_KEY must be at least ${MIN_KEY_LENGTH} characters (try: openssl rand -base64 48)`);
  return {
    ttl,
    idleTtl,
    perUser: reader.integer('SESSIONS_PER_USER', 10, 1, 1000),
    // The first seals; all open, so that moving to a SESSION_KEY or rotating COOKIE_SECRET loses no session.
    secrets: Object.freeze([...(key ? [key] : []), cookies.secret, ...cookies.previousSecrets]),
  };
}

/** What `PROVIDER_<ID>_REFRESH_INTERVAL` and `_LOGOUT` say; see `ProviderSessionSettings`. */
export function providerSessionSettings(prefix: string, vars: ReadonlyMap<string, string>, reader: EnvReader) {
  const rawInterval = vars.get('REFRESH_INTERVAL') || undefined;
  let refreshInterval = 900;
  if (rawInterval === 'off') refreshInterval = 0;
  else if (rawInterval !== undefined) {
    const value = Number(rawInterval);
    if (Number.isInteger(value) && value >= 60 && value <= 30 * DAY) refreshInterval = value;
    else
      reader.problem(
        `${prefix}REFRESH_INTERVAL must be off or a whole number of seconds from 60 to ${30 * DAY}, got ${JSON.stringify(rawInterval)}`,
      );
  }
  const logout = vars.get('LOGOUT') || 'provider';
  if (logout !== 'provider' && logout !== 'local')
    reader.problem(`${prefix}LOGOUT must be provider or local, got ${JSON.stringify(logout)}`);
  return { refreshInterval, logout: logout === 'local' ? ('local' as const) : ('provider' as const) };
}
