import type { AccessRules, ProviderSettings } from '../providers/index.js';
import type { PorteroAlgorithm } from '../shared/algorithms.js';

/** Where portero listens and how it is reached. */
export interface ServerConfig {
  /** PUBLIC_URL, no trailing slash: `https://auth.example.com` or `https://example.com/auth`. */
  readonly publicUrl: string;
  readonly port: number;
  readonly host: string;
  /**
   * TRUSTED_PROXIES: the peers (addresses and CIDR ranges, `10.0.0.0/8`) whose TRUSTED_PROXY_HEADER,
   * `X-Forwarded-Proto/Host/Uri`, `X-Original-URL` and `X-Request-Id` are believed; from any other
   * peer the socket's address is the client's. Empty by default.
   */
  readonly trustedProxies: readonly string[];
  /** TRUSTED_PROXY_HEADER: `x-forwarded-for` (default) or `forwarded` (RFC 7239), the one header read. */
  readonly trustedProxyHeader: 'x-forwarded-for' | 'forwarded';
  /** SHUTDOWN_TIMEOUT: seconds the requests in flight have to finish after SIGTERM before they are cut short (exit 1). */
  readonly shutdownTimeout: number;
}

export interface LogConfig {
  readonly level: string;
  /** Names this process in every log line (`instance`), to tell replicas apart; the host name by default. */
  readonly instanceName: string;
  /** `LOG_FORMAT`: `json` (one object a line, for a log pipeline) or `pretty` (for a person at a terminal). */
  readonly format: 'json' | 'pretty';
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Which Redis deployment portero talks to: exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES. */
export type RedisTopology =
  /** REDIS_URL: one server (or a managed endpoint that fronts several). */
  | { readonly kind: 'standalone'; readonly host: string; readonly port: number; readonly db: number }
  /** REDIS_SENTINELS and REDIS_SENTINEL_NAME: the sentinels say which server is the master of group `name`. */
  | { readonly kind: 'sentinel'; readonly sentinels: readonly HostPort[]; readonly name: string; readonly sentinelPassword?: string }
  /** REDIS_CLUSTER_NODES: some nodes of a Redis Cluster; the rest are discovered from them. */
  | { readonly kind: 'cluster'; readonly nodes: readonly HostPort[] };

/** TLS to the data nodes (not to sentinels): on with rediss:// or REDIS_TLS=true; PEM text of the REDIS_TLS_* files. */
export interface RedisTls {
  readonly enabled: boolean;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface RedisConfig {
  /** Unset: the in-memory store (one instance only). */
  readonly topology?: RedisTopology;
  /** For the data nodes of every topology: REDIS_USERNAME / REDIS_PASSWORD, or a REDIS_URL's own. Never logged. */
  readonly username?: string;
  readonly password?: string;
  readonly tls: RedisTls;
  /** Seconds to wait at start for the first connection before starting unready (REDIS_STARTUP_WAIT). */
  readonly startupWait: number;
  /**
   * REDIS_ALLOW_EVICTION: serve even when Redis may evict portero's keys (a memory limit under a
   * policy other than noeviction), revocations included; by default the store then refuses to serve.
   */
  readonly allowEviction: boolean;
}

export interface CookieConfig {
  /** Signs the flow cookie (COOKIE_SECRET). */
  readonly secret: string;
  /** COOKIE_SECRET_PREVIOUS: earlier secrets, still accepted on read (never written), so a secret can be rotated. */
  readonly previousSecrets: readonly string[];
  /** True when no COOKIE_SECRET was given and a random one was made (development only). */
  readonly secretGenerated: boolean;
  readonly domain?: string;
  /** TOKEN_COOKIE_NAME; by default `__Host-auth_token` under https without COOKIE_DOMAIN, else `auth_token`. */
  readonly tokenName: string;
  /** Whether cookies get `Secure` and the `__Host-` prefix: PUBLIC_URL is https. */
  readonly secure: boolean;
}

export interface TokenConfig {
  readonly alg: PorteroAlgorithm;
  readonly issuer: string;
  readonly audience?: string;
  /** Seconds an issued token is valid. */
  readonly ttl: number;
  /**
   * CLOCK_SKEW: seconds by which clocks (another instance's, a provider's) may disagree. Allowed on
   * `exp` and `nbf` of portero's tokens and on `exp`, `iat`, `nbf` of ID tokens, and added to how
   * long a revocation lives.
   */
  readonly clockSkew: number;
  /**
   * REVOCATION_GRACE: seconds after the feed of sign-outs was lost during which, with the store
   * unreachable too, `/auth` trusts this instance's deny-set alone rather than answer 503. 0: never.
   */
  readonly revocationGrace: number;
  /** JWT_KEYS; unset: an ephemeral key (development only). */
  readonly keysFile?: string;
}

/** Server-side sessions: what a login starts and token renewal extends (src/tokens/session-store.ts). */
export interface SessionConfig {
  /** SESSION_TTL: seconds from sign-in after which a session ends, however active. */
  readonly ttl: number;
  /** SESSION_IDLE_TTL: seconds without a renewal after which a session ends. */
  readonly idleTtl: number;
  /** SESSIONS_PER_USER: a user's sessions beyond this end, oldest first. */
  readonly perUser: number;
  /**
   * What the provider's refresh tokens are sealed under: SESSION_KEY when set (it seals), then
   * COOKIE_SECRET and COOKIE_SECRET_PREVIOUS (tried on reading, so a rotation loses nothing).
   */
  readonly secrets: readonly string[];
}

export interface FlowConfig {
  /** PUBLIC_URL: callbacks are `${publicUrl}/callback/<id>`, and relative `return_to` resolve against it. */
  readonly publicUrl: string;
  /** Seconds a started login may take. */
  readonly ttl: number;
  /** Origins (`https://app.example.com`) or subdomain patterns (`https://*.example.com`). */
  readonly allowedRedirects: readonly string[];
  /** PROVIDER_TIMEOUT: seconds a provider's whole answer (discovery, JWKS, token, userinfo, API calls) may take. */
  readonly providerTimeout: number;
  /** ALLOWED_EMAIL_DOMAINS: who may sign in through any provider; each provider's own rules add to it. */
  readonly access: AccessRules;
}

/** At most `points` requests per `duration` seconds from one client address. */
export interface RateLimitRule {
  readonly points: number;
  readonly duration: number;
}

/**
 * The abuse limits, per client address, shared by every instance on the store; a limit set to
 * `off` is absent. `/auth` and the JWKS are never limited: a proxy calls /auth for every request.
 */
export interface RateLimitConfig {
  /** RATE_LIMIT_LOGIN: `GET /login/:provider`, each of which stores a flow. */
  readonly login?: RateLimitRule;
  /** RATE_LIMIT_CALLBACK: `/callback/:provider`, each of which may exchange a code. */
  readonly callback?: RateLimitRule;
  /** RATE_LIMIT_REFRESH: `POST /refresh`, each of which may refresh at the provider. */
  readonly refresh?: RateLimitRule;
  /**
   * RATE_LIMIT_TOKEN: the OpenID Provider's token endpoint, per confidential app (a request with its
   * secret: its servers call it, many users behind one address), else per address.
   */
  readonly token?: RateLimitRule;
}

export interface DevConfig {
  /** Development mode without any provider: run the built-in development IdP as `dev`. */
  readonly idp: boolean;
  /** Port of the built-in development IdP on 127.0.0.1; 0 picks a free one. */
  readonly idpPort: number;
}

/** The operator's product on every page portero shows. */
export interface BrandConfig {
  /** BRAND_NAME: in every page's header and title; `portero` by default. Plain text. */
  readonly name: string;
  /** BRAND_LOGO_URL: an absolute https URL (http on loopback), allowed exactly in the pages' CSP `img-src`. */
  readonly logoUrl?: string;
}

/** Where `/metrics` is served: on METRICS_PORT and METRICS_HOST when a port is set, else beside the gateway's routes. */
export interface MetricsConfig {
  /** METRICS_PORT; undefined: `/metrics` is served on PORT with everything else. */
  readonly port?: number;
  /** METRICS_HOST; HOST by default. */
  readonly host: string;
}

/**
 * A downstream app registered with portero's OpenID Provider by `APP_<ID>_*` (src/config/apps.ts).
 * `<ID>` lower-cased, `_` becoming `-`, is its `client_id`.
 */
export interface AppClientConfig {
  readonly clientId: string;
  /**
   * APP_<ID>_SECRET; absent: a public client (token endpoint auth `none`, PKCE S256 required).
   * Accepted in the `Authorization: Basic` header or the form body alike (oidc-provider takes both).
   */
  readonly secret?: string;
  /** APP_<ID>_REDIRECT_URIS: exact absolute URLs, https but on loopback, no wildcard, no fragment. */
  readonly redirectUris: readonly string[];
  /** APP_<ID>_POST_LOGOUT_REDIRECT_URIS: the same rules. */
  readonly postLogoutRedirectUris: readonly string[];
  /** APP_<ID>_BACKCHANNEL_LOGOUT_URI: where portero posts a logout token when the user's session ends. */
  readonly backchannelLogoutUri?: string;
  /** APP_<ID>_NAME: shown to the user on sign-out pages; the client id by default. */
  readonly name: string;
  /** APP_<ID>_OFFLINE_ACCESS: whether the app may have refresh tokens (when it asks for `offline_access`). */
  readonly offlineAccess: boolean;
  /**
   * APP_<ID>_RESOURCES: the app's own APIs (RFC 8707 resource indicators, by the redirect URIs'
   * rules). An access token asked for one is an `at+jwt` (RFC 9068) with it as `aud`.
   */
  readonly resources: readonly string[];
}

/** The whole configuration, one part per concern; each consumer is given only its part. Frozen. */
export interface Config {
  readonly mode: 'development' | 'production';
  readonly server: ServerConfig;
  readonly log: LogConfig;
  readonly redis: RedisConfig;
  readonly cookies: CookieConfig;
  readonly tokens: TokenConfig;
  readonly sessions: SessionConfig;
  readonly flow: FlowConfig;
  readonly rateLimits: RateLimitConfig;
  readonly brand: BrandConfig;
  readonly providers: readonly ProviderSettings[];
  /** The apps of portero's OpenID Provider; none: the provider is not mounted at all. */
  readonly apps: readonly AppClientConfig[];
  readonly dev: DevConfig;
  readonly metrics: MetricsConfig;
  /** What start-up warns about without refusing: variables that look like a misspelt setting. */
  readonly warnings: readonly string[];
}
