import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Env } from './env.js';
import { parseProviders } from './providers.js';
import { JWT_ALGS, type Config, type JwtAlg, type ProviderSettings } from './types.js';

/** Every problem found in the configuration, reported together so an operator fixes them in one go. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const MIN_SECRET_LENGTH = 32;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function integer(env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return fallback;
  }
  return value;
}

function publicUrl(env: Env, port: number, problems: string[]): string {
  const raw = env.PUBLIC_URL?.trim() || `http://localhost:${port}`;
  try {
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
    if (url.search || url.hash || url.username || url.password) {
      problems.push(`PUBLIC_URL must be a plain origin with an optional path, got ${JSON.stringify(raw)}`);
    }
    return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
  } catch {
    problems.push(`PUBLIC_URL must be an http(s) URL, got ${JSON.stringify(raw)}`);
    return 'http://localhost:3000';
  }
}

/** `https://app.example.com` or `https://*.example.com`: a scheme, a host (maybe wildcard), a port. */
function allowedRedirects(env: Env, ownOrigin: string, problems: string[]): string[] {
  const raw = env.ALLOWED_REDIRECTS?.trim();
  if (!raw) return [ownOrigin];
  const origins: string[] = [];
  for (const entry of raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const wildcard = entry.includes('://*.');
    try {
      const url = new URL(wildcard ? entry.replace('://*.', '://wildcard.') : entry);
      const bare = url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
      const scheme = url.protocol === 'https:' || url.protocol === 'http:';
      if (!bare || !scheme) throw new Error();
      // `*.example.com`, never a whole top-level domain (`*.com`) nor a nested wildcard.
      if (wildcard && (url.hostname.split('.').length < 3 || url.hostname.includes('*'))) throw new Error();
      origins.push(wildcard ? url.origin.replace('://wildcard.', '://*.') : url.origin);
    } catch {
      problems.push(
        `ALLOWED_REDIRECTS entry ${JSON.stringify(entry)} is not an origin (like https://app.example.com or https://*.example.com)`,
      );
    }
  }
  return origins;
}

function cookieSecret(env: Env, production: boolean, problems: string[]) {
  const secret = env.COOKIE_SECRET;
  if (secret) {
    if (secret.length < MIN_SECRET_LENGTH) {
      problems.push(`COOKIE_SECRET must be at least ${MIN_SECRET_LENGTH} characters (try: openssl rand -base64 48)`);
    }
    return { cookieSecret: secret, cookieSecretGenerated: false };
  }
  if (production) problems.push('COOKIE_SECRET is required in production (try: openssl rand -base64 48)');
  return { cookieSecret: randomBytes(32).toString('base64url'), cookieSecretGenerated: true };
}

/** COOKIE_DOMAIN and TOKEN_COOKIE_NAME, checked against what browsers would accept for PUBLIC_URL. */
function tokenCookie(env: Env, url: string, problems: string[]) {
  const cookieDomain = env.COOKIE_DOMAIN?.trim() || undefined;
  if (cookieDomain && !/^\.?[a-z0-9-]+(\.[a-z0-9-]+)*$/i.test(cookieDomain)) {
    problems.push(`COOKIE_DOMAIN must be a domain like .example.com, got ${JSON.stringify(cookieDomain)}`);
  }
  const host = new URL(url).hostname;
  if (cookieDomain && !`.${host}`.endsWith(`.${cookieDomain.replace(/^\./, '')}`)) {
    problems.push(`COOKIE_DOMAIN ${cookieDomain} does not contain PUBLIC_URL's host ${host}: browsers would refuse the token cookie`);
  }
  const tokenCookieName = env.TOKEN_COOKIE_NAME?.trim() || 'auth_token';
  if (!/^[A-Za-z0-9_.-]+$/.test(tokenCookieName)) problems.push('TOKEN_COOKIE_NAME may hold letters, digits, _, . and -');
  // Browsers enforce cookie name prefixes; a name that breaks their rules would never be stored.
  if (/^__(Host|Secure)-/i.test(tokenCookieName) && !url.startsWith('https:')) {
    problems.push(`TOKEN_COOKIE_NAME ${tokenCookieName} needs an https PUBLIC_URL`);
  }
  if (/^__Host-/i.test(tokenCookieName) && cookieDomain)
    problems.push(`TOKEN_COOKIE_NAME ${tokenCookieName} cannot be used with COOKIE_DOMAIN`);
  return { cookieDomain, tokenCookieName };
}

// Frozen through, not just at the top: nothing may widen the redirect list or change a provider after start-up.
const freezeProvider = (provider: ProviderSettings): ProviderSettings =>
  Object.freeze({ ...provider, scopes: provider.scopes && Object.freeze([...provider.scopes]) });

/**
 * Parses and validates the whole configuration. Throws a {@link ConfigError} that lists every
 * problem found; on success the returned object is frozen.
 */
export function parseConfig(env: Env): Config {
  const problems: string[] = [];
  const production = env.NODE_ENV === 'production';
  const port = integer(env, 'PORT', 3000, 0, 65535, problems);
  const url = publicUrl(env, port, problems);
  const origin = new URL(url).origin;

  const jwtAlg = (env.JWT_ALG?.trim() || 'ES256') as JwtAlg;
  if (!JWT_ALGS.includes(jwtAlg)) problems.push(`JWT_ALG must be one of ${JWT_ALGS.join(', ')}, got ${JSON.stringify(jwtAlg)}`);

  const redisUrl = env.REDIS_URL?.trim() || undefined;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) problems.push('REDIS_URL must start with redis:// or rediss://');

  const secure = url.startsWith('https:');
  const { cookieDomain, tokenCookieName } = tokenCookie(env, url, problems);
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);

  const providers = parseProviders(env, problems);
  const jwtKeysFile = env.JWT_KEYS?.trim() || undefined;
  if (production) {
    if (!redisUrl) problems.push('REDIS_URL is required in production (the in-memory store serves one instance only)');
    if (!jwtKeysFile) problems.push('JWT_KEYS is required in production (generate a key file with: npm run keys)');
    if (providers.length === 0) problems.push('no provider is configured: set PROVIDER_<ID>_CLIENT_ID and its companions');
  }

  const config: Config = {
    mode: production ? 'production' : 'development',
    publicUrl: url,
    port,
    host: env.HOST?.trim() || '0.0.0.0',
    redisUrl,
    ...cookieSecret(env, production, problems),
    cookieDomain,
    tokenCookieName,
    jwtKeysFile,
    jwtAlg,
    jwtIssuer: env.JWT_ISSUER?.trim() || url,
    jwtAudience: env.JWT_AUDIENCE?.trim() || undefined,
    jwtTtl: integer(env, 'JWT_TTL', 3600, 60, 30 * 24 * 3600, problems),
    flowTtl: integer(env, 'FLOW_TTL', 600, 30, 3600, problems),
    allowedRedirects: Object.freeze(allowedRedirects(env, origin, problems)),
    providers: Object.freeze(providers.map(freezeProvider)),
    devIdp: !production && providers.length === 0,
    devIdpPort: integer(env, 'DEV_IDP_PORT', 0, 0, 65535, problems),
    logLevel,
    instanceName: env.INSTANCE_NAME?.trim() || hostname(),
    secureCookies: secure,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}
