import type { Context } from 'hono';
import { Hono } from 'hono';
import type { AppDeps } from '../../app.js';
import { isPorteroError, PorteroError } from '../../errors.js';
import { resolveReturnTo } from '../../flow/return-to.js';
import type { CookieJar } from '../cookies.js';
import type { AppEnv } from '../types.js';

/** The token from `Authorization: Bearer` (API clients) or else the token cookie (browsers). */
function presentedToken(c: Context, jar: CookieJar): string | undefined {
  const authorization = c.req.header('authorization');
  const bearer = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  return bearer ?? jar.readToken(c);
}

/** Forward-auth, userinfo and logout: everything that reads the token portero issued. */
export function sessionRoutes(deps: AppDeps, jar: CookieJar) {
  const app = new Hono<AppEnv>();

  const authenticate = async (c: Context) => {
    const token = presentedToken(c, jar);
    if (!token) throw new PorteroError('unauthenticated', 'no token presented', { detail: { reason: 'no token' } });
    return { token, claims: await deps.sessions.authenticate(token) };
  };

  /**
   * Where to send a person whom /auth refused: the sign-in page, returning to the URL the proxy
   * was asked for (nginx: `X-Original-URL`; Traefik, Caddy: `X-Forwarded-Proto/Host/Uri`) when
   * that URL is allowed. nginx cannot URL-encode, so portero builds the address for it.
   */
  const signInUrl = (c: Context) => {
    const forwarded = c.req.header('x-forwarded-host') && c.req.header('x-forwarded-uri')
      ? `${c.req.header('x-forwarded-proto') ?? 'https'}://${c.req.header('x-forwarded-host')}${c.req.header('x-forwarded-uri')}`
      : undefined;
    const original = c.req.header('x-original-url') ?? forwarded;
    const signIn = `${deps.config.publicUrl}/`;
    if (!original) return signIn;
    try {
      return `${signIn}?${new URLSearchParams({ return_to: resolveReturnTo(original, deps.login.returnTo) })}`;
    } catch {
      return signIn;
    }
  };

  // nginx auth_request, Traefik forwardAuth, Caddy forward_auth: 200 with identity headers, or 401
  // with `X-Auth-Request-Redirect` naming the sign-in page.
  app.get('/auth', async (c) => {
    const { token, claims } = await authenticate(c).catch((err: unknown) => {
      if (isPorteroError(err) && err.code === 'unauthenticated') c.header('x-auth-request-redirect', signInUrl(c));
      throw err;
    });
    c.header('cache-control', 'no-store');
    c.header('x-auth-request-user', claims.sub);
    if (claims.email) c.header('x-auth-request-email', claims.email);
    if (claims.preferred_username) c.header('x-auth-request-preferred-username', claims.preferred_username);
    c.header('x-auth-request-token', token);
    return c.body(null, 200);
  });

  app.get('/userinfo', async (c) => {
    const { claims } = await authenticate(c);
    c.header('cache-control', 'no-store');
    return c.json(claims);
  });

  app.on(['GET', 'POST'], '/logout', async (c) => {
    const returnTo = resolveReturnTo(c.req.query('return_to'), deps.login.returnTo);
    const token = presentedToken(c, jar);
    jar.clearToken(c);
    c.header('cache-control', 'no-store');
    if (token) {
      // A token that no longer verifies has nothing left to revoke; the cookie is cleared either way.
      const claims = await deps.sessions.verify(token).catch(() => undefined);
      if (claims) await deps.sessions.revoke(claims);
    }
    return c.redirect(returnTo, 302);
  });

  return app;
}
