import type { Context } from 'hono';

/** JSON for API clients (Accept names application/json and not text/html), HTML for browsers. */
export function wantsJson(c: Context): boolean {
  const accept = c.req.header('accept') ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}
