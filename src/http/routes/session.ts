import type { Context } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { isPorteroError, UNAUTHENTICATED } from '../../errors.js';
import { resolveReturnTo } from '../../flow/return-to.js';
import { bearerToken } from '../../shared/bearer.js';
import { checkLocationRules } from '../auth-rules.js';
import { refuseIdentityHeaders } from '../identity-headers.js';
import type { HttpDeps } from '../deps.js';
import { checkLogoutPost, requestMarkers } from '../logout-origin.js';
import { rateLimit } from '../rate-limit.js';
import { authenticate, authenticateRenewing, renewPresented } from '../token-auth.js';
import type { AppEnv } from '../types.js';

/**
 * A claim as an HTTP header value: UTF-8 bytes (as oauth2-proxy sends them; a header is a byte
 * string, and `山田` would not fit as it is), with control characters removed so a claim can never
 * split a header.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point: they are removed.
const headerValue = (claim: string) => Buffer.from(claim.replace(/[\u0000-\u001f\u007f]/g, ''), 'utf8').toString('latin1');

/**
 * Where to send a person whom /auth refused: the sign-in page, returning to the URL the proxy
 * was asked for (nginx: `X-Original-URL`; Traefik, Caddy: `X-Forwarded-Proto/Host/Uri`) when
 * the proxy is one of TRUSTED_PROXIES and that URL is allowed. nginx cannot URL-encode, so portero builds the address for it.
 */
function signInUrl(c: Context<AppEnv>, deps: HttpDeps): string {
  const signIn = `${deps.server.publicUrl}/`;
  // Only a trusted proxy says where the request was going; from anyone else these are the client's words.
  if (!c.get('client').viaTrustedProxy) return signIn;
  const host = c.req.header('x-forwarded-host');
  const uri = c.req.header('x-forwarded-uri');
  const forwarded = host && uri ? `${c.req.header('x-forwarded-proto') ?? 'https'}://${host}${uri}` : undefined;
  const original = c.req.header('x-original-url') ?? forwarded;
  if (!original) return signIn;
  try {
    return `${signIn}?${new URLSearchParams({ return_to: resolveReturnTo(original, deps.flow) })}`;
  } catch {
    return signIn;
  }
}

/**
 * GET /auth, for nginx auth_request, Traefik forwardAuth, Caddy forward_auth: 200 with identity
 * headers, or 401 with `X-Auth-Request-Redirect` naming the sign-in page; 403 for a request that
 * brings identity headers of its own (refused first, so no token lets one through) and for one
 * its location's rules refuse.
 */
function forwardAuth(deps: HttpDeps) {
  return async (c: Context<AppEnv>) => {
    refuseIdentityHeaders(c.req.raw.headers, (c.env as Partial<HttpBindings> | undefined)?.incoming?.rawHeaders);
    const { token, claims } = await authenticateRenewing(c, deps).catch((err: unknown) => {
      if (isPorteroError(err, UNAUTHENTICATED)) c.header('x-auth-request-redirect', signInUrl(c, deps));
      throw err;
    });
    checkLocationRules(c, claims);
    c.header('cache-control', 'no-store');
    c.header('x-auth-request-user', headerValue(claims.sub));
    // Each header always, empty when the token says nothing: a proxy that copies them (Caddy's
    // copy_headers, Traefik's authResponseHeaders) then overwrites whatever the client sent under
    // that name, and Caddy before 2.9 would otherwise pass on its placeholder's own text.
    // Only a verified address: apps key accounts by it, and an unverified one can be anyone's.
    c.header('x-auth-request-email', claims.email && claims.email_verified === true ? headerValue(claims.email) : '');
    c.header('x-auth-request-preferred-username', headerValue(claims.preferred_username ?? ''));
    c.header('x-auth-request-groups', headerValue((claims.groups ?? []).join(',')));
    c.header('x-auth-request-token', token);
    return c.body(null, 200);
  };
}

/**
 * GET /auth/redirect: /auth, but a request that is not signed in is answered with the 302 to the
 * sign-in page itself (the address `X-Auth-Request-Redirect` names), for a proxy that hands the
 * auth server's refusal to the browser as it is (Traefik, Caddy) and has no way of its own to turn
 * a 401 into that redirect. A 403 stays a 403, a 200 a 200. A route of its own rather than a
 * parameter, as oauth2-proxy has `/oauth2/auth` (401) beside its redirecting proxy mode: the proxy's
 * configuration chooses it explicitly, a misspelt path is a 404 the operator sees on the first
 * request (a misspelt parameter would silently be the 401), it cannot be mistaken for one of the
 * location rules in the query, and the request log tells the two apart by route. Never guessed
 * from the request (`Sec-Fetch-*`, `Accept`): nginx's subrequests carry a browser's headers too,
 * and nginx must keep its 401.
 */
function forwardAuthOrSignIn(deps: HttpDeps) {
  const auth = forwardAuth(deps);
  return async (c: Context<AppEnv>) => {
    try {
      return await auth(c);
    } catch (err) {
      if (!isPorteroError(err, UNAUTHENTICATED)) throw err;
      // The line says why, as the 401's does.
      c.set('logDetail', { ...c.get('logDetail'), ...err.detail });
      c.header('cache-control', 'no-store');
      return c.redirect(signInUrl(c, deps), 302);
    }
  };
}

/** Forward-auth, userinfo and renewal: what reads and renews the token portero issued. */
export function sessionRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.get('/auth', forwardAuth(deps));
  app.get('/auth/redirect', forwardAuthOrSignIn(deps));

  app.get('/userinfo', async (c) => {
    const { claims } = await authenticate(c, deps);
    c.header('cache-control', 'no-store');
    return c.json(claims);
  });

  // An API client (a bearer token) or a page of portero's or an allowed origin (the cookie): a new
  // token while the session lives. Checked like POST /logout, so another site cannot keep a session alive.
  app.use('/refresh', rateLimit('refresh', deps.limits.refresh));
  app.post('/refresh', async (c) => {
    c.header('cache-control', 'no-store');
    if (bearerToken(c.req.header('authorization')) === undefined) checkLogoutPost(requestMarkers(c.req.raw.headers), deps.flow, '/refresh');
    const renewed = await renewPresented(c, deps);
    return c.json({ token: renewed.token, token_type: 'Bearer', expires_in: renewed.claims.exp - Math.floor(deps.clock.now() / 1000) });
  });

  return app;
}
