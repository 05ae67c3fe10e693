import type { Context } from 'hono';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { BAD_REQUEST, PorteroError, UNKNOWN_PROVIDER } from '../../errors.js';
import { endSessionUrl, logoutOrigin } from '../../flow/end-session.js';
import { forgetLogoutToken, validateLogoutToken } from '../../flow/logout-token.js';
import { resolveReturnTo } from '../../flow/return-to.js';
import type { EndedSession } from '../../flow/session-lifecycle.js';
import { bearerToken } from '../../shared/bearer.js';
import type { PorteroClaims } from '../../shared/claims.js';
import type { HttpDeps } from '../deps.js';
import { respondWithOAuthError } from '../errors.js';
import { pageContext } from '../layout.js';
import { checkLogoutPost, requestMarkers, signsOutByGet } from '../logout-origin.js';
import { signOutConfirmPage } from '../pages.js';
import { reportEvents, sessionEndedEvent } from '../security-events.js';
import type { AppEnv } from '../types.js';

/** A logout token is a few hundred bytes to a few kB; refuse a larger body before reading it. */
const MAX_BACKCHANNEL_BODY = 32 * 1024;

interface SignOut {
  readonly returnTo: string;
  /** End every session of the user, not only this browser's. */
  readonly everywhere: boolean;
}

/** Where the provider sends the browser back after RP-initiated logout; register it there. */
export const signedOutUrl = (publicUrl: string) => `${publicUrl}/signed-out`;

/**
 * Where to continue a sign-out: at the provider of the first session ended, when its discovery
 * names an `end_session_endpoint` and `PROVIDER_<ID>_LOGOUT` is not `local` (OpenID Connect
 * RP-Initiated Logout, with the ID token as `id_token_hint`, back to `/signed-out`, then
 * `return_to`); else `return_to` at once. A provider that cannot be asked leaves the sign-out
 * local: portero's session is over either way.
 */
async function continueAt(deps: HttpDeps, claims: PorteroClaims | undefined, idToken: string | undefined, returnTo: string) {
  const provider = claims ? deps.login.providers.get(claims.provider) : undefined;
  if (!provider || provider.settings.logout === 'local' || idToken === undefined) return returnTo;
  const url = await endSessionUrl(provider, {
    postLogoutRedirectUri: signedOutUrl(deps.server.publicUrl),
    idTokenHint: idToken,
    state: returnTo,
  }).catch(() => undefined);
  // Elsewhere than its issuer's origin, the pages' CSP (form-action) would stop the browser on the way.
  return url && url.origin === logoutOrigin(provider) ? url.href : returnTo;
}

/**
 * Ends the sessions of the presented tokens (expired ones too: the cookie outlives its token, and
 * its session must end with it), or with `everywhere` all of their users' sessions; clears the
 * token cookie; and sends the browser on (`continueAt`).
 */
async function signOut(c: Context<AppEnv>, deps: HttpDeps, { returnTo, everywhere }: SignOut): Promise<Response> {
  const bearer = bearerToken(c.req.header('authorization'));
  const ended: EndedSession[] = [];
  let first: { claims: PorteroClaims; idToken: string | undefined } | undefined;
  for (const token of [...deps.cookies.readTokens(c), ...(bearer ? [bearer] : [])]) {
    // A token that is not portero's has nothing to end; the cookie is cleared either way.
    const claims = await deps.sessions.verifyForRenewal(token).catch(() => undefined);
    if (!claims || ended.some((session) => session.sid === claims.sid)) continue;
    // Read before the session ends, with it; a store that cannot answer fails the revocation next, not this.
    first ??= { claims, idToken: await deps.lifecycle.idTokenOf(claims.sid).catch(() => undefined) };
    if (everywhere) ended.push(...(await deps.lifecycle.endAllOf(claims.sub, 'everywhere')));
    // Its own too: a session begun before sessions were kept is in no index, but its token is revoked.
    if (!ended.some((session) => session.sid === claims.sid))
      ended.push(await deps.lifecycle.end(claims, everywhere ? 'everywhere' : 'logout'));
  }
  reportEvents(c, ended.map(sessionEndedEvent));
  // Only once the revocations are stored: should the store fail (503), the browser keeps its cookie
  // and can sign out again, rather than believe it signed out while its token stays valid.
  deps.cookies.clearToken(c);
  return c.redirect(await continueAt(deps, first?.claims, first?.idToken, returnTo), 302);
}

const wantsEverywhere = (c: Context) => c.req.query('everywhere') === 'true';

/** The logout token of a back-channel logout request: the one form field the specification names. */
async function logoutTokenOf(request: Request): Promise<string> {
  if (!(request.headers.get('content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
    throw new PorteroError(BAD_REQUEST, 'a back-channel logout request must be a form');
  }
  const token = new URLSearchParams(await request.text()).get('logout_token');
  if (!token) throw new PorteroError(BAD_REQUEST, 'the back-channel logout request carries no logout_token');
  return token;
}

/** Signing out: `/logout` for this browser or everywhere, the provider's way back, and its back-channel logout. */
export function logoutRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  // GET /logout from another site's page shows a confirmation page instead of signing out; a POST
  // is accepted from portero's own pages and the allowed origins only (see logout-origin.ts).
  app.get('/logout', async (c) => {
    const returnTo = resolveReturnTo(c.req.query('return_to'), deps.flow);
    c.header('cache-control', 'no-store');
    if (!signsOutByGet(requestMarkers(c.req.raw.headers), deps.flow)) {
      return c.html(signOutConfirmPage(pageContext(c), c.req.query('return_to')));
    }
    return signOut(c, deps, { returnTo, everywhere: wantsEverywhere(c) });
  });

  app.post('/logout', async (c) => {
    const returnTo = resolveReturnTo(c.req.query('return_to'), deps.flow);
    c.header('cache-control', 'no-store');
    checkLogoutPost(requestMarkers(c.req.raw.headers), deps.flow);
    return signOut(c, deps, { returnTo, everywhere: wantsEverywhere(c) });
  });

  // Back from the provider's end_session_endpoint: `state` is the return_to portero sent, held to
  // ALLOWED_REDIRECTS again (the provider, or anyone, may have changed it); anything else: the sign-in page.
  app.get('/signed-out', (c) => {
    c.header('cache-control', 'no-store');
    let returnTo = `${deps.server.publicUrl}/`;
    try {
      returnTo = resolveReturnTo(c.req.query('state') ?? returnTo, deps.flow);
    } catch {}
    return c.redirect(returnTo, 302);
  });

  // OpenID Connect Back-Channel Logout 1.0: the provider, server to server, names sessions it ended.
  const backchannel = new Hono<AppEnv>();
  backchannel.onError((err, c) => respondWithOAuthError(err, c));
  backchannel.use(
    bodyLimit({ maxSize: MAX_BACKCHANNEL_BODY, onError: () => Promise.reject(new PorteroError(BAD_REQUEST, 'body too large')) }),
  );
  backchannel.post('/:provider', async (c) => {
    c.header('cache-control', 'no-store');
    const provider = deps.login.providers.get(c.req.param('provider'));
    if (!provider)
      throw new PorteroError(UNKNOWN_PROVIDER, 'no such provider', { detail: { provider: c.req.param('provider').slice(0, 64) } });
    const logoutToken = await logoutTokenOf(c.req.raw);
    const named = await validateLogoutToken(provider, logoutToken, { store: deps.store, clock: deps.clock });
    const ended = await deps.lifecycle.endUpstream(provider.id, named).catch(async (err: unknown) => {
      // Not ended (the store failed): the provider's retry of this very token must be taken.
      await forgetLogoutToken(provider.id, logoutToken, deps.store).catch(() => undefined);
      throw err;
    });
    reportEvents(c, ended.map(sessionEndedEvent));
    return c.body(null, 200);
  });
  app.route('/backchannel-logout', backchannel);

  return app;
}
