import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type ProviderRegistry, type ProviderSettings, presets } from '../providers/index.js';
import { PORTERO_ALGORITHMS } from '../shared/algorithms.js';
import { DEFAULT_TOKEN_COOKIE, HOST_TOKEN_COOKIE } from '../shared/claims.js';
import { isLoopbackHost } from '../shared/loopback.js';
import type { Env } from './env.js';
import { accessRules, checkOpenProviders, checkSelfNamedGroups, checkUnverifiedEmailRules, readDomains } from './access.js';
import { parseApps } from './apps.js';
import { brand } from './brand.js';
import { rateLimits } from './limits.js';
import { metricsServer } from './metrics.js';
import { sessions } from './sessions.js';
import { misspelledSettings } from './misspelled.js';
import { proxies } from './proxies.js';
import { redis } from './redis.js';
import { parseProviders } from './providers.js';
import { ConfigError, EnvReader } from './reader.js';
import { allowedRedirects } from './redirects.js';
import type { Config, CookieConfig, FlowConfig, ServerConfig, TokenConfig } from './types.js';

export { ConfigError } from './reader.js';

const MIN_SECRET_LENGTH = 32;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function logFormat(reader: EnvReader): 'json' | 'pretty' {
  const format = reader.text('LOG_FORMAT') ?? 'json';
  if (format === 'json' || format === 'pretty') return format;
  reader.problem(`LOG_FORMAT must be json or pretty, got ${JSON.stringify(format)}`);
  return 'json';
}
/** NODE_ENV values portero knows; unset is development. `test` is development too (vitest sets it). */
const NODE_ENVS = ['production', 'development', 'test'];

/**
 * Production or not, from NODE_ENV. Anything else is refused rather than taken for development:
 * `NODE_ENV=prod` would otherwise run with ephemeral keys and the built-in IdP, without a word.
 */
function isProduction(reader: EnvReader): boolean {
  const raw = reader.text('NODE_ENV');
  if (raw !== undefined && !NODE_ENVS.includes(raw)) {
    reader.problem(
      `NODE_ENV must be production, development or test (or unset, for development), got ${JSON.stringify(raw)}: set NODE_ENV=production to run in production`,
    );
  }
  return raw === 'production';
}

function publicUrl(reader: EnvReader, port: number): string {
  const raw = reader.text('PUBLIC_URL') ?? `http://localhost:${port}`;
  try {
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
    if (url.search || url.hash || url.username || url.password) {
      reader.problem(`PUBLIC_URL must be a plain origin with an optional path, got ${JSON.stringify(raw)}`);
    }
    return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
  } catch {
    reader.problem(`PUBLIC_URL must be an http(s) URL, got ${JSON.stringify(raw)}`);
    return 'http://localhost:3000';
  }
}

/** Development listens on loopback only unless HOST says otherwise: its banner says not to expose it. */
function server(reader: EnvReader, production: boolean): ServerConfig {
  const port = reader.integer('PORT', 3000, 0, 65535);
  return {
    publicUrl: publicUrl(reader, port),
    port,
    host: reader.text('HOST') ?? (production ? '0.0.0.0' : '127.0.0.1'),
    ...proxies(reader),
    shutdownTimeout: reader.integer('SHUTDOWN_TIMEOUT', 10, 1, 600),
  };
}

function flow(reader: EnvReader, url: string): FlowConfig {
  return {
    publicUrl: url,
    ttl: reader.integer('FLOW_TTL', 600, 30, 3600),
    allowedRedirects: Object.freeze(allowedRedirects(reader, new URL(url).origin)),
    providerTimeout: reader.integer('PROVIDER_TIMEOUT', 10, 1, 120),
    access: accessRules(readDomains('ALLOWED_EMAIL_DOMAINS', reader.text('ALLOWED_EMAIL_DOMAINS'), reader), undefined),
  };
}

/** COOKIE_SECRET_PREVIOUS: a comma list of earlier secrets, each as long as a secret must be. */
function previousSecrets(reader: EnvReader): string[] {
  const entries = (reader.raw('COOKIE_SECRET_PREVIOUS') ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const [index, entry] of entries.entries()) {
    // By position, never the value: this message is logged.
    if (entry.length < MIN_SECRET_LENGTH)
      reader.problem(`COOKIE_SECRET_PREVIOUS entry ${index + 1} must be at least ${MIN_SECRET_LENGTH} characters, like COOKIE_SECRET`);
  }
  return entries;
}

function cookieSecret(reader: EnvReader, production: boolean): Pick<CookieConfig, 'secret' | 'secretGenerated'> {
  const secret = reader.raw('COOKIE_SECRET');
  if (secret) {
    if (secret.length < MIN_SECRET_LENGTH)
      reader.problem(`COOKIE_SECRET must be at least ${MIN_SECRET_LENGTH} characters (try: openssl rand -base64 48)`);
    return { secret, secretGenerated: false };
  }
  if (production) reader.problem('COOKIE_SECRET is required in production (try: openssl rand -base64 48)');
  return { secret: randomBytes(32).toString('base64url'), secretGenerated: true };
}

/** COOKIE_SECRET(_PREVIOUS), COOKIE_DOMAIN and TOKEN_COOKIE_NAME, checked against what browsers would accept for PUBLIC_URL. */
function cookies(reader: EnvReader, url: string, production: boolean): CookieConfig {
  const domain = reader.text('COOKIE_DOMAIN');
  if (domain && !/^\.?[a-z0-9-]+(\.[a-z0-9-]+)*$/i.test(domain)) {
    reader.problem(`COOKIE_DOMAIN must be a domain like .example.com, got ${JSON.stringify(domain)}`);
  }
  const host = new URL(url).hostname;
  if (domain && !`.${host}`.endsWith(`.${domain.replace(/^\./, '')}`)) {
    reader.problem(`COOKIE_DOMAIN ${domain} does not contain PUBLIC_URL's host ${host}: browsers would refuse the token cookie`);
  }
  const secure = url.startsWith('https:');
  // __Host-: browsers keep it only host-only, Secure and for Path=/, so no sibling subdomain can
  // plant one (cookie tossing). A shared COOKIE_DOMAIN cannot have it; plain http cannot either.
  const tokenName = reader.text('TOKEN_COOKIE_NAME') ?? (secure && !domain ? HOST_TOKEN_COOKIE : DEFAULT_TOKEN_COOKIE);
  if (!/^[A-Za-z0-9_.-]+$/.test(tokenName)) reader.problem('TOKEN_COOKIE_NAME may hold letters, digits, _, . and -');
  // Browsers enforce cookie name prefixes; a name that breaks their rules would never be stored.
  if (/^__(Host|Secure)-/i.test(tokenName) && !secure) reader.problem(`TOKEN_COOKIE_NAME ${tokenName} needs an https PUBLIC_URL`);
  if (/^__Host-/i.test(tokenName) && domain) reader.problem(`TOKEN_COOKIE_NAME ${tokenName} cannot be used with COOKIE_DOMAIN`);
  return {
    ...cookieSecret(reader, production),
    previousSecrets: Object.freeze(previousSecrets(reader)),
    ...(domain ? { domain } : {}),
    tokenName,
    secure,
  };
}

function tokens(reader: EnvReader, url: string): TokenConfig {
  const audience = reader.text('JWT_AUDIENCE');
  const keysFile = reader.text('JWT_KEYS');
  return {
    alg: reader.oneOf('JWT_ALG', PORTERO_ALGORITHMS, 'ES256'),
    issuer: reader.text('JWT_ISSUER') ?? url,
    ...(audience ? { audience } : {}),
    ttl: reader.integer('JWT_TTL', 3600, 60, 30 * 24 * 3600),
    clockSkew: reader.integer('CLOCK_SKEW', 30, 0, 300),
    revocationGrace: reader.integer('REVOCATION_GRACE', 0, 0, 3600),
    ...(keysFile ? { keysFile } : {}),
  };
}

/**
 * A provider that posts its answer (`response_mode=form_post`) arrives cross-site, where only a
 * SameSite=None cookie is sent, and browsers keep those only with Secure, so only under https.
 */
function checkFormPost(providers: readonly ProviderSettings[], secure: boolean, reader: EnvReader): void {
  if (secure) return;
  for (const provider of providers) {
    if (provider.responseMode === 'form_post') {
      reader.problem(
        `provider ${provider.id} answers by form_post, which needs an https PUBLIC_URL (its flow cookie must be SameSite=None; Secure)`,
      );
    }
  }
}

/** What production refuses to run without, each named. */
function checkProduction(config: Omit<Config, 'mode' | 'warnings'>, reader: EnvReader): void {
  const url = new URL(config.server.publicUrl);
  // http off loopback: every cookie, the token's included, would travel without Secure.
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    reader.problem(
      `PUBLIC_URL must be https in production, got ${url.origin}: set it to the https address browsers use (behind a TLS-terminating proxy, the proxy's https address); without it cookies go without Secure. Plain http is for a loopback host only`,
    );
  }
  // Not when two are set: that clash is reported already.
  if (!config.redis.topology && !['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'].some((name) => reader.text(name))) {
    reader.problem(
      'one of REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES is required in production (the in-memory store serves one instance only)',
    );
  }
  if (!config.tokens.keysFile) reader.problem('JWT_KEYS is required in production (generate a key file with: npm run keys)');
  if (config.providers.length === 0) reader.problem('no provider is configured: set PROVIDER_<ID>_CLIENT_ID and its companions');
}

/** Frozen through, not just at the top: nothing may widen the redirect list or change a setting after start-up. */
function deepFreeze<T extends object>(value: T): T {
  for (const member of Object.values(value)) if (typeof member === 'object' && member !== null) deepFreeze(member);
  return Object.freeze(value);
}

/** What {@link inspectConfig} found: the configuration (with fallbacks where a setting is wrong), its problems, and every setting it asked for. */
export interface ConfigInspection {
  readonly config: Config;
  readonly problems: readonly string[];
  /** Every variable read, in the order read: the settings portero knows for this environment. */
  readonly names: ReadonlySet<string>;
}

/**
 * Parses and validates the whole configuration, by the provider types of `registry` (the presets
 * unless a test adds its own). Throws a {@link ConfigError} that lists every problem found; on
 * success the returned object is frozen through.
 */
export function parseConfig(env: Env, registry: ProviderRegistry = presets): Config {
  const { config, problems } = inspectConfig(env, registry);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Reads the configuration exactly as {@link parseConfig} does, but returns its problems instead of
 * throwing them (`npm run check-config`): where a setting is wrong, `config` holds its fallback.
 */
export function inspectConfig(env: Env, registry: ProviderRegistry = presets): ConfigInspection {
  const reader = new EnvReader(env);
  const production = isProduction(reader);
  const serverConfig = server(reader, production);
  const url = serverConfig.publicUrl;
  const logLevel = reader.text('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) reader.problem(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const providers = parseProviders(env, reader, registry);
  const cookieConfig = cookies(reader, url, production);
  const tokenConfig = tokens(reader, url);
  const apps = parseApps(env, reader, { publicUrl: url, tokens: tokenConfig });
  const config: Omit<Config, 'mode' | 'warnings'> = {
    server: serverConfig,
    log: { level: logLevel, instanceName: reader.text('INSTANCE_NAME') ?? hostname(), format: logFormat(reader) },
    redis: redis(reader),
    cookies: cookieConfig,
    tokens: tokenConfig,
    sessions: sessions(reader, tokenConfig, cookieConfig),
    flow: flow(reader, url),
    rateLimits: rateLimits(reader),
    apps: apps.apps,
    brand: brand(reader),
    providers,
    dev: { idp: !production && providers.length === 0, idpPort: reader.integer('DEV_IDP_PORT', 0, 0, 65535) },
    metrics: metricsServer(reader, serverConfig),
  };
  checkFormPost(providers, config.cookies.secure, reader);
  checkUnverifiedEmailRules(providers, registry, config.flow.access, reader);
  checkSelfNamedGroups(providers, registry, reader);
  if (production) {
    checkProduction(config, reader);
    checkOpenProviders(providers, registry, config.flow.access, reader);
  }
  const warnings = [...misspelledSettings(env, reader.names), ...apps.warnings];
  const frozen = deepFreeze<Config>({ mode: production ? 'production' : 'development', ...config, warnings });
  return { config: frozen, problems: [...reader.problems], names: reader.names };
}
