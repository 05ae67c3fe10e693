import type { Context } from 'hono';
import { Hono } from 'hono';
import { resolveReturnTo } from '../../flow/return-to.js';
import type { EndedSession } from '../../flow/session-lifecycle.js';
import { bearerToken } from '../../shared/bearer.js';
import type { HttpDeps } from '../deps.js';
import { pageContext } from '../layout.js';
import { checkLogoutPost, requestMarkers, signsOutByGet } from '../logout-origin.js';
import { signOutConfirmPage } from '../pages.js';
import { reportEvents, sessionEndedEvent } from '../security-events.js';
import type { AppEnv } from '../types.js';

interface SignOut {
  readonly returnTo: string;
  /** End every session of the user, not only this browser's. */
  readonly everywhere: boolean;
}

/**
 * Ends the sessions of the presented tokens (expired ones too: the cookie outlives its token, and
 * its session must end with it), or with `everywhere` all of their users' sessions; clears the
 * token cookie; and sends the browser to `returnTo`.
 */
async function signOut(c: Context<AppEnv>, deps: HttpDeps, { returnTo, everywhere }: SignOut): Promise<Response> {
  const bearer = bearerToken(c.req.header('authorization'));
  const ended: EndedSession[] = [];
  for (const token of [...deps.cookies.readTokens(c), ...(bearer ? [bearer] : [])]) {
    // A token that is not portero's has nothing to end; the cookie is cleared either way.
    const claims = await deps.sessions.verifyForRenewal(token).catch(() => undefined);
    if (!claims || ended.some((session) => session.sid === claims.sid)) continue;
    if (everywhere) ended.push(...(await deps.lifecycle.endAllOf(claims.sub, 'everywhere')));
    // Its own too: a session begun before sessions were kept is in no index, but its token is revoked.
    if (!ended.some((session) => session.sid === claims.sid))
      ended.push(await deps.lifecycle.end(claims, everywhere ? 'everywhere' : 'logout'));
  }
  reportEvents(c, ended.map(sessionEndedEvent));
  // Only once the revocations are stored: should the store fail (503), the browser keeps its cookie
  // and can sign out again, rather than believe it signed out while its token stays valid.
  deps.cookies.clearToken(c);
  return c.redirect(returnTo, 302);
}

const wantsEverywhere = (c: Context) => c.req.query('everywhere') === 'true';

/** Signing out: `/logout` for this browser or everywhere. */
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

  return app;
}
