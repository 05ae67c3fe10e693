import type { Context } from 'hono';
import { INTERNAL, isPorteroError, PorteroError } from '../errors.js';
import { errorTable } from './error-table.js';
import { wantsJson } from './negotiate.js';
import { pageContext } from './layout.js';
import { errorPage } from './pages.js';
import type { AppEnv } from './types.js';

/** Anything thrown that is not a PorteroError is a bug; it becomes a 500 with no detail shown. */
function toPorteroError(err: unknown): PorteroError {
  if (isPorteroError(err)) return err;
  return new PorteroError(INTERNAL, 'unexpected error', { cause: err });
}

/** What every error response carries, whatever its body: no caching, `Retry-After` when known. */
function prepare(err: unknown, c: Context<AppEnv>): PorteroError {
  const error = toPorteroError(err);
  // Remembered for the request's single log line (see `requestLog`), not logged here.
  c.set('error', error);
  c.header('cache-control', 'no-store');
  if (error.retryAfter !== undefined) c.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfter))));
  return error;
}

/**
 * The error-to-response mapper of portero's own routes: status, page or JSON from `errorTable`,
 * with `error` = portero's code.
 */
export function respondWithError(err: unknown, c: Context<AppEnv>): Response | Promise<Response> {
  const error = prepare(err, c);
  const presentation = errorTable[error.code];
  if (wantsJson(c)) {
    return c.json({ error: error.code, error_description: presentation.title, request_id: c.get('requestId') }, presentation.status);
  }
  return c.html(errorPage(pageContext(c), presentation, c.get('requestId'), error.account), presentation.status);
}

/**
 * The mapper of OAuth endpoints (a token endpoint): always JSON, with `error` the RFC 6749 value
 * their clients expect (RFC 6749, 5.2), from the same table.
 */
export function respondWithOAuthError(err: unknown, c: Context<AppEnv>): Response {
  const error = prepare(err, c);
  const presentation = errorTable[error.code];
  return c.json({ error: presentation.oauthError, error_description: presentation.title }, presentation.status);
}
