import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config/types.js';
import { PorteroError } from './errors.js';
import { loginDeps, type LoginDeps } from './flow/login.js';
import type { ConfiguredProvider } from './flow/providers.js';
import { PorteroCookies } from './http/cookies.js';
import { respondWithError } from './http/errors.js';
import { requestLog } from './http/request-log.js';
import { loginRoutes } from './http/routes/login.js';
import { publicRoutes } from './http/routes/public.js';
import { sessionRoutes } from './http/routes/session.js';
import type { AppEnv } from './http/types.js';
import type { Logger } from './logger.js';
import type { Store } from './store/types.js';
import type { KeySet } from './tokens/keys.js';
import { Sessions } from './tokens/sessions.js';

export interface AppOptions {
  readonly config: Config;
  readonly store: Store;
  readonly keys: KeySet;
  readonly providers: ReadonlyMap<string, ConfiguredProvider>;
  readonly logger: Logger;
  readonly clock?: Clock;
}

/** What the route modules are given. */
export interface AppDeps {
  readonly config: Config;
  readonly store: Store;
  readonly keys: KeySet;
  readonly login: LoginDeps;
  readonly sessions: Sessions;
}

/**
 * Builds the gateway from its parts. Nothing here is global: a test builds a real app on a real
 * Redis with one call, and two apps sharing one store behave like two instances behind a balancer.
 */
export function createApp(options: AppOptions): Hono<AppEnv> {
  const { config, store, keys, providers, logger } = options;
  const clock = options.clock ?? systemClock;
  const deps: AppDeps = {
    config,
    store,
    keys,
    login: loginDeps(config, { store, providers, clock }),
    sessions: new Sessions(keys, store, { issuer: config.jwtIssuer, audience: config.jwtAudience, ttl: config.jwtTtl }, clock),
  };
  const cookies = new PorteroCookies(config);
  const basePath = new URL(config.publicUrl).pathname.replace(/\/$/, '');

  // With PUBLIC_URL https://example.com/sso, every route lives under /sso (the proxy need not strip
  // it), and `/sso/`, where sign-ins land by default, is the sign-in page: hence strict: false.
  const root = new Hono<AppEnv>({ strict: false });
  const app = basePath ? root.basePath(basePath) : root;
  app.use(requestId());
  app.use(requestLog(logger, clock));
  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        styleSrc: ["'unsafe-inline'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      referrerPolicy: 'no-referrer',
      strictTransportSecurity: config.secureCookies ? 'max-age=31536000; includeSubDomains' : false,
    }),
  );
  app.use(async (c, next) => {
    c.set('basePath', basePath);
    await next();
  });
  app.route('/', publicRoutes(deps, cookies));
  app.route('/', loginRoutes(deps, cookies));
  app.route('/', sessionRoutes(deps, cookies));
  app.notFound((c) => respondWithError(new PorteroError('not_found', 'no such route'), c));
  app.onError((err, c) => respondWithError(err, c));
  return app;
}
