import { Hono } from 'hono';
import { type Clock, systemClock } from './clock.js';
import type { Config, RateLimitConfig } from './config/types.js';
import { NOT_FOUND, PorteroError } from './errors.js';
import { logoutOrigin } from './flow/end-session.js';
import { loginDeps } from './flow/login.js';
import { checkSessionAccess } from './flow/session-access.js';
import { SessionLifecycle, type SessionLifecycleDeps } from './flow/session-lifecycle.js';
import type { ConfiguredProvider } from './flow/provider-client.js';
import { clientAddress } from './http/client-address.js';
import { PorteroCookies } from './http/cookies.js';
import type { HttpDeps } from './http/deps.js';
import { respondWithError } from './http/errors.js';
import type { PageContext } from './http/layout.js';
import { opRoutes } from './http/routes/op.js';
import { openIdProvider } from './op.js';
import { clientLimit } from './http/rate-limit.js';
import { requestId } from './http/request-id.js';
import { requestLog } from './http/request-log.js';
import { requestCounter } from './http/request-metrics.js';
import { loginRoutes } from './http/routes/login.js';
import { logoutRoutes } from './http/routes/logout.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { healthRoutes, publicRoutes } from './http/routes/public.js';
import { sessionRoutes } from './http/routes/session.js';
import { securityHeaders } from './http/security-headers.js';
import type { AppEnv } from './http/types.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { InstrumentedStore } from './store/instrumented.js';
import type { KeyValueStore } from './store/types.js';
import { KeyRing } from './tokens/key-ring.js';
import type { KeySet } from './tokens/keys.js';
import { Revocations } from './tokens/revocations.js';
import { SecretSealer } from './tokens/sealed-secret.js';
import { SessionStore } from './tokens/session-store.js';
import { Sessions } from './tokens/sessions.js';

export interface AppOptions {
  readonly config: Config;
  readonly store: KeyValueStore;
  /** The signing keys; a `KeyRing` lets the process replace them while it serves (a reload of JWT_KEYS). */
  readonly keys: KeySet | KeyRing;
  readonly providers: ReadonlyMap<string, ConfiguredProvider>;
  readonly logger: Logger;
  readonly clock?: Clock;
  /**
   * Where the app counts (`/metrics`); a registry of its own when not given. `src/main.ts` gives one
   * with the process metrics, and serves it on METRICS_PORT when that is set.
   */
  readonly metrics?: Metrics;
  /** Whether the process is draining (SIGTERM): `/readyz` then answers 503, so a load balancer sends no more. */
  readonly draining?: () => boolean;
}

/** One limiter per configured limit, on the store every instance shares. */
function rateLimiters(limits: RateLimitConfig, store: KeyValueStore): HttpDeps['limits'] {
  return {
    ...(limits.login ? { login: clientLimit(store, 'login', limits.login) } : {}),
    ...(limits.callback ? { callback: clientLimit(store, 'callback', limits.callback) } : {}),
    ...(limits.refresh ? { refresh: clientLimit(store, 'refresh', limits.refresh) } : {}),
  };
}

/**
 * Where a form's redirect may go: the allowed `return_to` origins, the providers' own for their
 * logout, and the apps' (the provider's form_post answer, and its sign-out's way back).
 */
function formTargets(config: Config, providers: AppOptions['providers']): string[] {
  const origins = [...providers.values()].map((provider) => (provider.settings.logout === 'local' ? undefined : logoutOrigin(provider)));
  const apps = config.apps.flatMap((app) => [...app.redirectUris, ...app.postLogoutRedirectUris].map((uri) => new URL(uri).origin));
  return [...new Set([...config.flow.allowedRedirects, ...origins.filter((origin): origin is string => origin !== undefined), ...apps])];
}

/** What the routes are given, built on the app's (instrumented) store. */
function httpDeps(options: AppOptions, store: KeyValueStore, clock: Clock, afterEnd?: SessionLifecycleDeps['afterEnd']): HttpDeps {
  const { config, providers, logger } = options;
  const keys = options.keys instanceof KeyRing ? options.keys : new KeyRing(options.keys);
  const revocations = new Revocations(store, clock, config.tokens.clockSkew, { grace: config.tokens.revocationGrace, logger });
  // Subscribed from the start, so that /auth asks the store nothing once the deny-set is loaded.
  revocations.follow();
  const sessions = new Sessions(keys, revocations, config.tokens, clock);
  const login = loginDeps(config.flow, {
    store,
    providers,
    clock,
    onEmailsFileError: (path, code) =>
      logger.warn(
        { event: 'emails_file_unreadable', path, code },
        'an allowed-emails file could not be read again: its last addresses stay',
      ),
  });
  return {
    server: config.server,
    clock,
    tokens: config.tokens,
    flow: config.flow,
    store,
    keys,
    draining: options.draining ?? (() => false),
    login,
    sessions,
    lifecycle: new SessionLifecycle({
      store: new SessionStore(store, clock, config.sessions.idleTtl),
      tokens: sessions,
      providers,
      sealer: new SecretSealer(config.sessions.secrets),
      config: config.sessions,
      clock,
      providerTimeout: config.flow.providerTimeout,
      tokenTtl: config.tokens.ttl,
      checkAccess: (provider, claims) => checkSessionAccess(config.flow.access, login.emailsFiles, provider, claims),
      ...(afterEnd ? { afterEnd } : {}),
    }),
    cookies: new PorteroCookies(config.cookies, { flowTtl: config.flow.ttl }),
    limits: rateLimiters(config.rateLimits, store),
  };
}

/**
 * Builds the gateway from its parts. Nothing here is global: a test builds a real app on a real
 * Redis with one call, and two apps sharing one store behave like two instances behind a balancer.
 */
export function createApp(options: AppOptions): Hono<AppEnv> {
  const { config, providers, logger } = options;
  const clock = options.clock ?? systemClock;
  const metrics = options.metrics ?? new Metrics();
  // Every store operation of the app timed and its failures counted, on Redis and in memory alike.
  const store = new InstrumentedStore(options.store, metrics);
  const basePath = new URL(config.server.publicUrl).pathname.replace(/\/$/, '');
  const pages: PageContext = { basePath, brand: config.brand };
  const provider = config.apps.length > 0 ? openIdProvider({ config, logger, metrics }, store, pages, () => deps) : undefined;
  const deps = httpDeps(options, store, clock, provider?.afterEnd);
  const headers = securityHeaders({ secure: config.cookies.secure, brand: config.brand, formTargets: formTargets(config, providers) });

  // With PUBLIC_URL https://example.com/sso, every route lives under /sso (the proxy need not strip
  // it), and `/sso/`, where sign-ins land by default, is the sign-in page: hence strict: false.
  const root = new Hono<AppEnv>({ strict: false });
  const app = basePath ? root.basePath(basePath) : root;
  // On the root, not under the base path: a request outside it (its 404) gets its request id, its
  // log line and the security headers too.
  root.use(clientAddress(config.server.trustedProxies, config.server.trustedProxyHeader));
  root.use(requestId());
  // The log's pass counts the metrics too: one set of facts, one middleware.
  root.use(requestLog(logger, clock, requestCounter(metrics, new Set(providers.keys()))));
  root.use(headers);
  root.use(async (c, next) => {
    c.set('basePath', basePath);
    c.set('brand', config.brand);
    await next();
  });
  // Before portero's own: the provider's discovery document replaces portero's, and its userinfo takes opaque tokens.
  if (provider) app.route('/', opRoutes(deps, provider.routes(headers)));
  app.route('/', publicRoutes(deps));
  if (basePath) root.route('/', healthRoutes(deps));
  app.route('/', loginRoutes(deps));
  app.route('/', sessionRoutes(deps));
  app.route('/', logoutRoutes(deps));
  // With METRICS_PORT set, /metrics is served there only (`createMetricsApp`), and is a 404 here.
  if (config.metrics.port === undefined) app.route('/', metricsRoutes(metrics));
  app.notFound((c) => respondWithError(new PorteroError(NOT_FOUND, 'no such route'), c));
  app.onError((err, c) => respondWithError(err, c));
  return app;
}

/** The server of METRICS_PORT: `GET /metrics` and nothing else (404), for a scraper, not the internet. */
export function createMetricsApp(metrics: Metrics): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.route('/', metricsRoutes(metrics));
  app.notFound((c) => c.text('not found', 404));
  app.onError((_err, c) => c.text('metrics unavailable', 500));
  return app;
}
