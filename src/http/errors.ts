import type { Context } from 'hono';
import { PorteroError, isPorteroError } from '../errors.js';
import { errorTable } from './error-table.js';
import { wantsJson } from './negotiate.js';
import { errorPage } from './pages.js';
import type { AppEnv } from './types.js';

/** Anything thrown that is not a PorteroError is a bug; it becomes a 500 with no detail shown. */
function toPorteroError(err: unknown): PorteroError {
  if (isPorteroError(err)) return err;
  return new PorteroError('internal', 'unexpected error', { cause: err });
}

/**
 * The one error-to-response mapper: status, page or JSON, from `errorTable`. The error is not
 * logged here but remembered for the request's single log line (see `requestLog`).
 */
export function respondWithError(err: unknown, c: Context<AppEnv>): Response | Promise<Response> {
  const error = toPorteroError(err);
  c.set('error', error);
  const presentation = errorTable[error.code];
  c.header('cache-control', 'no-store');
  if (wantsJson(c)) {
    return c.json({ error: error.code, error_description: presentation.title, request_id: c.get('requestId') }, presentation.status);
  }
  return c.html(
    errorPage(c.get('basePath'), presentation.title, presentation.hint, c.get('requestId'), presentation.startAgain),
    presentation.status,
  );
}
