import type { Context } from 'hono';
import { Hono } from 'hono';
import { isPorteroError, PorteroError, UNAUTHENTICATED } from '../../errors.js';
import { resolveReturnTo } from '../../flow/return-to.js';
import { bearerToken } from '../../shared/bearer.js';
import { chooseToken, type PresentedTokens } from '../../shared/presented-token.js';
import type { PorteroCookies } from '../cookies.js';
import { checkLocationRules } from '../auth-rules.js';
import { refuseIdentityHeaders } from '../identity-headers.js';
import type { HttpDeps } from '../deps.js';
import { checkLogoutPost, requestMarkers, signsOutByGet } from '../logout-origin.js';
import { pageContext } from '../layout.js';
import { signOutConfirmPage } from '../pages.js';
import type { AppEnv } from '../types.js';

/** The tokens a request presents: `Authorization: Bearer` (API clients) and the token cookie (browsers). */
function presentedTokens(c: Context, cookies: PorteroCookies): PresentedTokens {
  return { bearer: bearerToken(c.req.header('authorization')), cookie: cookies.readToken(c) };
}

/**
 * A claim as an HTTP header value: UTF-8 bytes (as oauth2-proxy sends them; a header is a byte
 * string, and `山田` would not fit as it is), with control characters removed so a claim can never
 * split a header.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point: they are removed.
const headerValue = (claim: string) => Buffer.from(claim.replace(/[\u0000-\u001f\u007f]/g, ''), 'utf8').toString('latin1');

/**
 * The refusal of a request that presents no token: most of what /auth refuses (every first visit,
 * every asset before sign-in), built once. A new error each time captured a stack each time, for a
 * line that never shows one. Frozen, as it is shared.
 */
const NO_TOKEN = Object.freeze(
  new PorteroError(UNAUTHENTICATED, 'not signed in: no token', { detail: Object.freeze({ reason: 'no token' }) }),
);

/**
 * The token that identifies the request and its claims, by the rule of `chooseToken`
 * (src/shared/presented-token.ts): a token portero did not issue (its signature does not verify
 * against portero's keys) beside one it did is ignored; of portero's own a bearer wins over the
 * cookie, and every one must be valid, not revoked, and name the same `sub` and `sid`; several
 * token cookies count as not signed in.
 */
async function authenticate(c: Context, deps: HttpDeps) {
  const choice = await chooseToken(presentedTokens(c, deps.cookies), {
    signedByPortero: (token) => deps.sessions.signedByPortero(token),
    check: (token) => deps.sessions.authenticate(token),
  });
  if (!choice.ok && choice.reason === 'no token') throw NO_TOKEN;
  if (!choice.ok) throw new PorteroError(UNAUTHENTICATED, `not signed in: ${choice.reason}`, { detail: { reason: choice.reason } });
  return choice;
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
  const bearer = bearerToken(c.req.header('authorization'));
  for (const token of [...deps.cookies.readTokens(c), ...(bearer ? [bearer] : [])]) {
    // A token that no longer verifies has nothing left to revoke; the cookie is cleared either way.
    const claims = await deps.sessions.verify(token).catch(() => undefined);
    if (!claims) continue;
    await deps.sessions.revoke(claims);
    const ended = {
      event: 'session_ended',
      fields: { sub: claims.sub, sid: claims.sid, provider: claims.provider, reason: 'logout' },
    } as const;
    c.set('securityEvents', [...(c.get('securityEvents') ?? []), ended]);
  }
  // Only once the revocation is stored: should the store fail (503), the browser keeps its cookie
  // and can sign out again, rather than believe it signed out while its token stays valid.
  deps.cookies.clearToken(c);
  return c.redirect(returnTo, 302);
}

/**
 * GET /auth, for nginx auth_request, Traefik forwardAuth, Caddy forward_auth: 200 with identity
 * headers, or 401 with `X-Auth-Request-Redirect` naming the sign-in page; 403 for a request that
 * brings identity headers of its own (refused first, so no token lets one through) and for one
 * its location's rules refuse.
 */
function forwardAuth(deps: HttpDeps) {
  return async (c: Context<AppEnv>) => {
    refuseIdentityHeaders(c.req.raw.headers);
    const { token, claims } = await authenticate(c, deps).catch((err: unknown) => {
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

/** Forward-auth, userinfo and logout: everything that reads the token portero issued. */
export function sessionRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.get('/auth', forwardAuth(deps));
  app.get('/auth/redirect', forwardAuthOrSignIn(deps));

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
      return c.html(signOutConfirmPage(pageContext(c), c.req.query('return_to')));
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
