import type { Context } from 'hono';
import { routePath } from 'hono/route';

/** The probes, whose callers (a kubelet, a load balancer, `curl`) are programs that rarely say what they accept. */
const PROBES = new Set(['/healthz', '/readyz']);

/**
 * JSON for API clients (Accept names application/json and not text/html), HTML for browsers. A
 * probe answers JSON to anything that does not ask for HTML: a browser always does.
 */
export function wantsJson(c: Context): boolean {
  const accept = c.req.header('accept') ?? '';
  if (accept.includes('text/html')) return false;
  if (accept.includes('application/json')) return true;
  // The probe's route under PUBLIC_URL's path (`/sso/readyz`) or at the root, where it answers too.
  const route = routePath(c, -1);
  const basePath: string | undefined = c.get('basePath');
  return PROBES.has(basePath && route.startsWith(`${basePath}/`) ? route.slice(basePath.length) : route);
}
