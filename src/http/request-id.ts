import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './types.js';

/** What a client's (or its proxy's) own id must look like to be kept. */
const PLAIN_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Names each request (`X-Request-Id`, on the response, in its log line and on error pages). An id
 * a trusted proxy (TRUSTED_PROXIES) sent is kept, so one request can be followed through both
 * logs, but only when short and plain: anything else (quotes, spaces, 10 kB) gets a fresh id, so no
 * log line or page can be forged through it. A client's own id is never kept: it could reuse
 * another request's and muddle whose line is whose. Runs after `clientAddress`.
 */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const given = c.get('client').viaTrustedProxy ? c.req.header('x-request-id') : undefined;
    const id = given !== undefined && PLAIN_ID.test(given) ? given : randomUUID();
    c.set('requestId', id);
    c.header('x-request-id', id);
    await next();
  };
}
