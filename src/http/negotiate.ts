import type { Context } from 'hono';
import { routePath } from 'hono/route';

/**
 * Routes only programs call, which rarely say what they accept: the probes (a kubelet, a load
 * balancer, `curl`) and the OpenID Provider's token endpoint (an app's server).
 */
const PROGRAMS_ONLY = new Set(['/healthz', '/readyz', '/token']);

/**
 * JSON for API clients (Accept names application/json and not text/html), HTML for browsers. A
 * route only programs call answers JSON to anything that does not ask for HTML: a browser always does.
 */
export function wantsJson(c: Context): boolean {
  const accept = c.req.header('accept') ?? '';
  if (accept.includes('text/html')) return false;
  if (accept.includes('application/json')) return true;
  // The route under PUBLIC_URL's path (`/sso/readyz`) or at the root, where it answers too.
  const route = routePath(c, -1);
  const basePath: string | undefined = c.get('basePath');
  return PROGRAMS_ONLY.has(basePath && route.startsWith(`${basePath}/`) ? route.slice(basePath.length) : route);
}
