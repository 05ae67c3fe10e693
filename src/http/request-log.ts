import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Clock } from '../clock.js';
import { IDENTITY_HEADER_SENT, INTERNAL, NOT_ALLOWED, type PorteroError, RATE_LIMITED } from '../errors.js';
import type { Logger } from '../logger.js';
import { errorTable } from './error-table.js';
import type { RequestCounter } from './request-metrics.js';
import type { AppEnv, SecurityEvent } from './types.js';

/** Characters of a path logged: a client's 16 kB path must not make every line of a flood 16 kB. */
const MAX_LOGGED_PATH = 512;

const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const NO_EVENTS: readonly SecurityEvent[] = Object.freeze([]);

/**
 * The events of this request, which answered at `route` (`routeInApp`): those its route reported,
 * and those its error is. What the log writes a line for, and what `requestCounter` counts.
 */
function securityEvents(c: Context<AppEnv>, error: PorteroError | undefined, route: string): readonly SecurityEvent[] {
  const reported = c.get('securityEvents') ?? NO_EVENTS;
  // A sign-in an access rule refused; an app's rule at /auth refusing a signed-in user is no login.
  if (error?.code === NOT_ALLOWED && route === '/callback/:provider') {
    const { rule, reason } = error.detail as Record<string, string | undefined>;
    const provider = /\/callback\/([^/]+)$/.exec(c.req.path)?.[1];
    return [...reported, { event: 'login_refused', fields: { provider, rule, reason } }];
  }
  if (error?.code === RATE_LIMITED) return [...reported, { event: 'rate_limited', fields: { limit: String(error.detail.limit ?? '') } }];
  // Someone tried to name themselves to the apps: the header's name, never its value.
  if (error?.code === IDENTITY_HEADER_SENT) {
    return [...reported, { event: 'identity_header_refused', fields: { header: String(error.detail.header ?? '') } }];
  }
  return reported;
}

/** The route that answered, as registered (`/callback/:provider`, under PUBLIC_URL's path `/sso/callback/:provider`), or `(none)`. */
function routeOf(c: Context<AppEnv>): string {
  const route = routePath(c, -1);
  return route === '*' || route === '/*' ? '(none)' : route;
}

/** `route` (`routeOf`) without PUBLIC_URL's path: `/callback/:provider` under any base path. */
function routeInApp(route: string, basePath: string | undefined): string {
  return basePath && route.startsWith(`${basePath}/`) ? route.slice(basePath.length) : route;
}

/**
 * One structured line per request, with its request id; a failed request's line carries the error
 * code and its safe detail, so each error is logged exactly once. Only the path is logged, never
 * the query (it holds authorization codes and state) nor any header or cookie.
 */
export function requestLog(logger: Logger, clock: Clock, count?: RequestCounter): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = clock.now();
    await next();
    const durationMs = clock.now() - started;
    const error = c.get('error');
    const route = routeOf(c);
    const inApp = routeInApp(route, c.get('basePath'));
    const events = securityEvents(c, error, inApp);
    count?.(c, { error, events, route: inApp, durationMs });
    // The route's and the error's detail first, so none of their keys can overwrite the fields every line has.
    const line = {
      ...c.get('logDetail'),
      ...error?.detail,
      request_id: c.get('requestId'),
      method: c.req.method,
      route,
      path: c.req.path.length > MAX_LOGGED_PATH ? `${c.req.path.slice(0, MAX_LOGGED_PATH)}…` : c.req.path,
      client_ip: c.get('client')?.address,
      status: c.res.status,
      duration_ms: durationMs,
      ...(error ? { error: error.code } : {}),
    };
    if (error?.code === INTERNAL) {
      const cause = error.cause instanceof Error ? error.cause : undefined;
      logger.error({ ...line, err_name: cause?.name, err_message: cause?.message, stack: cause?.stack }, error.message);
      return;
    }
    const level = error ? errorTable[error.code].level : QUIET_PATHS.has(c.req.path) ? 'debug' : 'info';
    logger[level](line, error ? error.message : 'request');
    for (const { event, fields } of events) {
      logger.info({ event, ...fields, request_id: line.request_id, client_ip: line.client_ip }, event.replaceAll('_', ' '));
    }
  };
}
