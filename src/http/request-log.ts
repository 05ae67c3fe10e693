import type { MiddlewareHandler } from 'hono';
import type { Clock } from '../clock.js';
import { INTERNAL } from '../errors.js';
import type { Logger } from '../logger.js';
import { errorTable } from './error-table.js';
import type { AppEnv } from './types.js';

/** Characters of a path logged: a client's 16 kB path must not make every line of a flood 16 kB. */
const MAX_LOGGED_PATH = 512;

const QUIET_PATHS = new Set(['/healthz', '/readyz']);

/**
 * One structured line per request, with its request id; a failed request's line carries the error
 * code and its safe detail, so each error is logged exactly once. Only the path is logged, never
 * the query (it holds authorization codes and state) nor any header or cookie.
 */
export function requestLog(logger: Logger, clock: Clock): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = clock.now();
    await next();
    const error = c.get('error');
    // The route's and the error's detail first, so none of their keys can overwrite the fields every line has.
    const line = {
      ...c.get('logDetail'),
      ...error?.detail,
      request_id: c.get('requestId'),
      method: c.req.method,
      path: c.req.path.length > MAX_LOGGED_PATH ? `${c.req.path.slice(0, MAX_LOGGED_PATH)}…` : c.req.path,
      client_ip: c.get('client')?.address,
      status: c.res.status,
      duration_ms: clock.now() - started,
      ...(error ? { error: error.code } : {}),
    };
    if (error?.code === INTERNAL) {
      const cause = error.cause instanceof Error ? error.cause : undefined;
      logger.error({ ...line, err_name: cause?.name, err_message: cause?.message, stack: cause?.stack }, error.message);
      return;
    }
    const level = error ? errorTable[error.code].level : QUIET_PATHS.has(c.req.path) ? 'debug' : 'info';
    logger[level](line, error ? error.message : 'request');
  };
}
