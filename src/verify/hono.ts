import type { MiddlewareHandler } from 'hono';
import { authSetup, refusal, type AuthOptions } from './auth.js';
import type { PorteroClaims } from '../shared/claims.js';
import { PorteroTokenError } from './errors.js';

/** The Hono variables {@link porteroAuth} sets: `c.get('portero')` holds the verified claims. */
export type PorteroVariables = { portero: PorteroClaims };

/**
 * Hono middleware: verifies the token from `Authorization: Bearer` or the `__Host-auth_token`
 * cookie (by the rule of `Verifier.verifyRequest`, the one portero's `/auth` applies), puts its
 * claims in `c.get('portero')`, and calls the next handler. Otherwise it answers itself:
 * 401 `{"error": "missing_token" | "invalid_token"}` with `WWW-Authenticate: Bearer`, or 503
 * `{"error": "jwks_unavailable"}` when portero's keys cannot be fetched. Options are checked when
 * it is built.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { porteroAuth, type PorteroVariables } from 'portero/verify';
 *
 * const app = new Hono<{ Variables: PorteroVariables }>();
 * app.use('/api/*', porteroAuth({ issuer: 'https://auth.example.com' }));
 * app.get('/api/me', (c) => c.json({ user: c.get('portero').sub }));
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 RFC 6750, section 3: WWW-Authenticate}
 */
export function porteroAuth(options: AuthOptions): MiddlewareHandler<{ Variables: PorteroVariables }> {
  const { verifier, cookieName } = authSetup(options);
  return async function porteroAuth(c, next) {
    let claims: PorteroClaims;
    try {
      claims = await verifier.verifyRequest(c.req.raw.headers, cookieName);
    } catch (err) {
      if (!(err instanceof PorteroTokenError)) throw err;
      const { status, headers, body } = refusal(err);
      return c.json(body, status, headers);
    }
    c.set('portero', claims);
    await next();
  };
}
