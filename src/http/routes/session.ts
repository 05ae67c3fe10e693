import type { Context } from 'hono';
import { Hono } from 'hono';
import { isPorteroError, PorteroError, UNAUTHENTICATED } from '../../errors.js';
import { resolveReturnTo } from '../../flow/return-to.js';
import { bearerToken } from '../../shared/bearer.js';
import type { PorteroCookies } from '../cookies.js';
import type { HttpDeps } from '../deps.js';
import { checkLogoutPost, requestMarkers, signsOutByGet } from '../logout-origin.js';
import { signOutConfirmPage } from '../pages.js';
import type { AppEnv } from '../types.js';

/**
 * The tokens a request presents: the token cookie (browsers) and `Authorization: Bearer` (API
 * clients). The cookie comes first, so an app behind forward auth that sends its own bearer token
 * upstream does not lock its signed-in users out.
 */
function presentedTokens(c: Context, cookies: PorteroCookies): string[] {
  const bearer = bearerToken(c.req.header('authorization'));
  return [cookies.readToken(c), bearer].filter((token): token is string => token !== undefined);
}

/**
 * A claim as an HTTP header value: UTF-8 bytes (as oauth2-proxy sends them; a header is a byte
 * string, and `山田` would not fit as it is), with control characters removed so a claim can never
 * split a header.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point: they are removed.
const headerValue = (claim: string) => Buffer.from(claim.replace(/[\u0000-\u001f\u007f]/g, ''), 'utf8').toString('latin1');

/** The first presented token that is valid and not revoked; else the last one's reason. */
async function authenticate(c: Context, deps: HttpDeps) {
  let failure: unknown = new PorteroError(UNAUTHENTICATED, 'no token presented', { detail: { reason: 'no token' } });
  for (const token of presentedTokens(c, deps.cookies)) {
    try {
      return { token, claims: await deps.sessions.authenticate(token) };
    } catch (err) {
      if (!isPorteroError(err, UNAUTHENTICATED)) throw err;
      failure = err;
    }
  }
  throw failure;
}

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

/** Revokes the sessions of the presented tokens, clears the token cookie, and sends the browser to `returnTo`. */
async function signOut(c: Context, deps: HttpDeps, returnTo: string): Promise<Response> {
  for (const token of presentedTokens(c, deps.cookies)) {
    // A token that no longer verifies has nothing left to revoke; the cookie is cleared either way.
    const claims = await deps.sessions.verify(token).catch(() => undefined);
    if (claims) await deps.sessions.revoke(claims);
  }
  // Only once the revocation is stored: should the store fail (503), the browser keeps its cookie
  // and can sign out again, rather than believe it signed out while its token stays valid.
  deps.cookies.clearToken(c);
  return c.redirect(returnTo, 302);
}

/** Forward-auth, userinfo and logout: everything that reads the token portero issued. */
export function sessionRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  // nginx auth_request, Traefik forwardAuth, Caddy forward_auth: 200 with identity headers, or 401
  // with `X-Auth-Request-Redirect` naming the sign-in page.
  app.get('/auth', async (c) => {
    const { token, claims } = await authenticate(c, deps).catch((err: unknown) => {
      if (isPorteroError(err, UNAUTHENTICATED)) c.header('x-auth-request-redirect', signInUrl(c, deps));
      throw err;
    });
    c.header('cache-control', 'no-store');
    c.header('x-auth-request-user', headerValue(claims.sub));
    // Only a verified address: apps key accounts by it, and an unverified one can be anyone's.
    if (claims.email && claims.email_verified === true) c.header('x-auth-request-email', headerValue(claims.email));
    if (claims.preferred_username) c.header('x-auth-request-preferred-username', headerValue(claims.preferred_username));
    c.header('x-auth-request-token', token);
    return c.body(null, 200);
  });

  app.get('/userinfo', async (c) => {
    const { claims } = await authenticate(c, deps);
    c.header('cache-control', 'no-store');
    return c.json(claims);
  });

  // GET /logout from another site's page shows a confirmation page instead of signing out; a POST
  // is accepted from portero's own pages and the allowed origins only (see logout-origin.ts).
  app.get('/logout', async (c) => {
    const returnTo = resolveReturnTo(c.req.query('return_to'), deps.flow);
    c.header('cache-control', 'no-store');
    if (!signsOutByGet(requestMarkers(c.req.raw.headers), deps.flow)) {
      return c.html(signOutConfirmPage(c.get('basePath'), c.req.query('return_to')));
    }
    return signOut(c, deps, returnTo);
  });

  app.post('/logout', async (c) => {
    const returnTo = resolveReturnTo(c.req.query('return_to'), deps.flow);
    c.header('cache-control', 'no-store');
    checkLogoutPost(requestMarkers(c.req.raw.headers), deps.flow);
    return signOut(c, deps, returnTo);
  });

  return app;
}
