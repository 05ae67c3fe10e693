import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { BAD_REQUEST, FLOW_INVALID, PorteroError } from '../../errors.js';
import { finishLogin, startLogin } from '../../flow/login.js';
import type { HttpDeps } from '../deps.js';
import { sessionEndedEvent } from '../security-events.js';
import { rateLimit } from '../rate-limit.js';
import type { AppEnv } from '../types.js';

const MAX_CALLBACK_BODY = 64 * 1024;

/** The callback's parameters: the query for GET, the form body for POST (`response_mode=form_post`). */
async function callbackParams(request: Request): Promise<URLSearchParams> {
  if (request.method !== 'POST') return new URL(request.url).searchParams;
  const type = request.headers.get('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw new PorteroError(BAD_REQUEST, 'callback POST must be a form', { detail: { content_type: type.slice(0, 64) } });
  }
  return new URLSearchParams(await request.text());
}

export function loginRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();
  const { cookies } = deps;

  app.use('/login/:provider', rateLimit('login', deps.limits.login));
  app.use('/callback/:provider', rateLimit('callback', deps.limits.callback));

  app.get('/login/:provider', async (c) => {
    const started = await startLogin(deps.login, c.req.param('provider'), c.req.query('return_to'), {
      signInAgain: c.req.query('prompt') === 'login',
    });
    cookies.pruneFlows(c);
    cookies.setFlow(c, started.state, started.flowId, { crossSite: started.crossSiteCallback });
    c.header('cache-control', 'no-store');
    return c.redirect(started.authorizationUrl.href, 302);
  });

  // A form_post callback is a few hundred bytes; refuse a large body before reading it.
  app.post(
    '/callback/:provider',
    bodyLimit({
      maxSize: MAX_CALLBACK_BODY,
      onError: () => {
        throw new PorteroError(BAD_REQUEST, 'callback body too large');
      },
    }),
  );

  app.on(['GET', 'POST'], '/callback/:provider', async (c) => {
    c.header('cache-control', 'no-store');
    const params = await callbackParams(c.req.raw);
    const state = params.get('state');
    if (!state) throw new PorteroError(FLOW_INVALID, 'the callback carries no state', { detail: { reason: 'no state' } });
    const flowId = cookies.readFlow(c, state);
    // Cleared only when sent: a callback without it (another site's POST) must not end a login in flight.
    if (flowId !== undefined) cookies.clearFlow(c, state);
    if (flowId === false) throw new PorteroError(FLOW_INVALID, 'the flow cookie is forged', { detail: { reason: 'bad cookie signature' } });
    if (flowId === undefined)
      throw new PorteroError(FLOW_INVALID, 'no flow cookie for this login', { detail: { reason: 'no flow cookie' } });

    const finished = await finishLogin(deps.login, c.req.param('provider'), flowId, params);
    const issued = await deps.lifecycle.begin(finished);
    // Names only, so the operator sees why an app misses a claim; never their values.
    const dropped = Object.keys(finished.profile.extraClaims ?? {}).filter((name) => !Object.hasOwn(issued.claims, name));
    const leftOut = [...finished.leftOutClaims, ...dropped];
    if (leftOut.length > 0) c.set('logDetail', { claims_left_out: leftOut.join(',').slice(0, 512) });
    cookies.setToken(c, issued.token, issued.sessionLeft);
    c.set('securityEvents', [
      ...issued.ended.map(sessionEndedEvent),
      { event: 'login_completed', fields: { provider: finished.provider.id, sub: issued.claims.sub, sid: issued.claims.sid } },
    ]);
    return c.redirect(finished.returnTo, 302);
  });

  return app;
}
