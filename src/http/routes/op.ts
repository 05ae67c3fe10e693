import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { default as Provider } from 'oidc-provider';
import { bodyLimit } from 'hono/body-limit';
import { BAD_REQUEST, FLOW_INVALID, PorteroError, RATE_LIMITED } from '../../errors.js';
import type { OpenIdProviderHolder } from '../../flow/op-provider.js';
import type { PorteroSessionRef } from '../../flow/op-sessions.js';
import { refusedAsEnded } from '../../flow/session-access.js';
import { bearerToken } from '../../shared/bearer.js';
import type { RateLimiter } from '../../store/types.js';
import type { HttpDeps } from '../deps.js';
import { endedOn, type HandOverOptions, handOver, nodeOf, refuseHead, sentByProvider, setPorteroHeaders } from '../op-handover.js';
import { type ClientLimit, rateLimit } from '../rate-limit.js';
import { reportEvents, sessionEndedEvent } from '../security-events.js';
import type { AppEnv } from '../types.js';

export interface OpRouteDeps {
  readonly holder: OpenIdProviderHolder;
  readonly handOver: HandOverOptions;
  /** RATE_LIMIT_TOKEN, counted per app (a request with its secret), else per address; absent when off. */
  readonly tokenLimit?: RateLimiter;
  /**
   * RATE_LIMIT_LOGIN's rule, counted on its own per address, for `/authorize`: each one from a
   * browser not signed in stores an interaction, as `/login` stores a flow.
   */
  readonly authorizeLimit?: ClientLimit;
  /** The registered apps' secrets by client id (undefined: a public app): what proves a token request is an app's. */
  readonly clientSecrets: ReadonlyMap<string, string | undefined>;
}

/** What oidc-provider reads a token request's body up to (`lib/shared/selective_body.js`). */
const MAX_TOKEN_BODY = 56 * 1024;

/** The browser's portero session, while it lives: what the provider's session is made to mirror. */
async function browserSession(c: Context<AppEnv>, deps: HttpDeps): Promise<PorteroSessionRef | null> {
  const cookie = deps.cookies.readToken(c);
  if (cookie.kind !== 'one') return null;
  // An expired token of a living session will do: its cookie is what renews it.
  const claims = await deps.sessions.verifyForRenewal(cookie.token).catch(() => undefined);
  if (!claims) return null;
  const record = await deps.lifecycle.living(claims).catch(refusedAsEnded);
  if (!record) return null;
  return {
    sid: record.sid,
    sub: record.sub,
    provider: record.provider,
    authTime: Math.floor(record.created / 1000),
    created: record.created,
  };
}

/**
 * Where a browser without a (fresh enough) portero session signs in, to come back to the
 * interaction: the one provider's login straight away, or the sign-in page to choose. With
 * `again`, the upstream provider is asked to authenticate the user anew (`prompt=login`).
 */
function signInUrl(deps: HttpDeps, basePath: string, back: string, again: boolean): string {
  const query = new URLSearchParams({ return_to: back, ...(again ? { prompt: 'login' } : {}) });
  const [only, ...others] = deps.login.providers.keys();
  if (only !== undefined && others.length === 0) return `${basePath}/login/${encodeURIComponent(only)}?${query}`;
  return `${basePath}/?${query}`;
}

/** `prompt=login` and a `max_age` the session is older than: the user must sign in at the provider again. */
const wantsFreshLogin = (reasons: readonly string[]) => reasons.includes('login_prompt') || reasons.includes('max_age');

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * What the interaction remembers of portero between its visits: the session the browser had when
 * sent to sign in, and when (ms) it was sent.
 */
type InteractionNote = { readonly portero?: { readonly sentFrom: string; readonly sentAt?: number } };

/**
 * Whether the browser signed in since the interaction sent it to (`prompt=login`, `max_age`): its
 * portero session is another than the one it had then ('' for none), and began after it was sent
 * (an older session of the user's, its cookie put back, is no sign-in again). Seconds would not do:
 * a sign-in and the app's request can fall in the same second.
 */
const signedInSince = (details: Interaction, session: PorteroSessionRef) => {
  const note = (details.result as InteractionNote | undefined)?.portero;
  return note !== undefined && note.sentFrom !== session.sid && session.created >= (note.sentAt ?? 0);
};

/** Saves a changed interaction for the rest of its life. */
const saveInteraction = (details: Interaction) => details.save(Math.max(1, (details.exp ?? 0) - Math.floor(Date.now() / 1000)));

async function rememberSignInSent(details: Interaction, session: PorteroSessionRef | null, now: number): Promise<void> {
  details.result = { ...details.result, portero: { sentFrom: session?.sid ?? '', sentAt: now } };
  await saveInteraction(details);
}

/**
 * The user signed in as someone else (`prompt=login`): their provider session is the new user's
 * now (`Session.get`), which the resumed authorization would refuse as not the one the interaction
 * began with. oidc-provider's own switch of accounts forgets that session the same way (before its
 * logout of the other account, which portero's sign-in already replaced).
 */
async function forgetOriginSession(details: Interaction): Promise<void> {
  details.session = undefined;
  await saveInteraction(details);
}

/** Grants an app the scopes and claims its consent prompt found missing: first-party apps ask nobody. */
async function consentGiven(provider: Provider, details: Interaction, accountId: string): Promise<string> {
  const clientId = (details.params as { client_id: string }).client_id;
  const grant = (details.grantId && (await provider.Grant.find(details.grantId))) || new provider.Grant({ accountId, clientId });
  const missing = details.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
  return grant.save();
}

/**
 * The flow cookie (signed, `__Host-` under https, FLOW_TTL) binding interaction `uid` to the
 * browser the provider sent to it: the provider's own interaction cookie is path-scoped, so it can
 * carry no `__Host-` prefix, and a sibling subdomain could plant it.
 */
export const interactionBinding = (uid: string) => `interaction.${uid}`;

const expired = () =>
  new PorteroError(FLOW_INVALID, 'the sign-in for the app expired or is not this browser’s', { detail: { reason: 'no interaction' } });

/** The provider's interaction: portero's session answers it (single sign-on), else the user signs in through portero first. */
function interactionRoute(deps: HttpDeps, op: OpRouteDeps) {
  return async (c: Context<AppEnv>) => {
    const refused = refuseHead(c);
    if (refused) return refused;
    const { incoming, outgoing } = nodeOf(c);
    const provider = await op.holder.get();
    const details = await provider.interactionDetails(incoming, outgoing).catch(() => Promise.reject(expired()));
    if (details.uid !== c.req.param('uid')) throw expired();
    if (deps.cookies.readFlow(c, interactionBinding(details.uid)) !== details.uid) throw expired();
    c.header('cache-control', 'no-store');
    const session = await browserSession(c, deps);
    const back = `${deps.server.publicUrl}/interaction/${encodeURIComponent(details.uid)}`;
    const { name, reasons } = details.prompt;
    if (name === 'login') {
      const again = wantsFreshLogin(reasons);
      if (!session || (again && !signedInSince(details, session))) {
        await rememberSignInSent(details, session, deps.clock.now());
        return c.redirect(signInUrl(deps, c.get('basePath'), back, again), 303);
      }
      if (details.session?.accountId && details.session.accountId !== session.sub) await forgetOriginSession(details);
      const login = { accountId: session.sub, ts: session.authTime };
      await setPorteroHeaders(c, outgoing, op.handOver);
      outgoing.appendHeader('Set-Cookie', deps.cookies.clearFlowLine(interactionBinding(details.uid)));
      await provider.interactionFinished(incoming, outgoing, { login }, { mergeWithLastSubmission: false });
      return sentByProvider(outgoing);
    }
    if (name === 'consent' && session && session.sub === details.session?.accountId) {
      const grantId = await consentGiven(provider, details, session.sub);
      await setPorteroHeaders(c, outgoing, op.handOver);
      outgoing.appendHeader('Set-Cookie', deps.cookies.clearFlowLine(interactionBinding(details.uid)));
      await provider.interactionFinished(incoming, outgoing, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return sentByProvider(outgoing);
    }
    // The user signed out (or in as someone else) meanwhile: that app's sign-in starts again.
    throw expired();
  };
}

/** `application/x-www-form-urlencoded` decoding, as RFC 6749 2.3.1 has Basic credentials encoded (and oidc-provider decodes them). */
const formDecoded = (text: string) => decodeURIComponent(text.replaceAll('+', ' '));

/** The client id and secret a token request presents: its Basic credentials, else its form's. */
function credentialsOf(authorization: string | undefined, body: string): { id?: string; secret?: string } {
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(authorization ?? '')?.[1];
  if (basic) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return {};
    return { id: formDecoded(decoded.slice(0, colon)), secret: formDecoded(decoded.slice(colon + 1)) };
  }
  const form = new URLSearchParams(body);
  return { id: form.get('client_id') ?? undefined, secret: form.get('client_secret') ?? undefined };
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * The confidential app a token request proves it is (its id with its secret), else undefined:
 * anyone can name an app, and a request merely naming one must not use up that app's budget.
 */
function authenticatedApp(authorization: string | undefined, body: string, secrets: ReadonlyMap<string, string | undefined>) {
  try {
    const { id, secret } = credentialsOf(authorization, body);
    const expected = id === undefined ? undefined : secrets.get(id);
    if (expected === undefined || secret === undefined) return undefined;
    return timingSafeEqual(digest(secret), digest(expected)) ? id : undefined;
  } catch {
    // A malformed percent-encoding: no app's credentials.
    return undefined;
  }
}

/**
 * The token endpoint, limited per app: a confidential app's servers exchange every user's codes
 * from a few addresses, so an address-based limit would throttle the app, not an attacker. Only a
 * request with the app's secret counts as the app's; any other (a wrong secret, a public app,
 * which anyone can name and whose users exchange their codes from their own devices, an unknown
 * id) counts at its address. The body is read here, and handed to the provider as already read.
 */
function tokenRoute(op: OpRouteDeps) {
  return async (c: Context<AppEnv>) => {
    const { incoming } = nodeOf(c);
    const body = Buffer.from(await c.req.arrayBuffer());
    (incoming as { body?: Buffer }).body = body;
    if (op.tokenLimit) {
      const app = authenticatedApp(c.req.header('authorization'), body.toString('utf8'), op.clientSecrets);
      const decision = await op.tokenLimit.consume(app !== undefined ? `client:${app}` : `address:${c.get('client').limitKey}`);
      if (!decision.allowed) {
        throw new PorteroError(RATE_LIMITED, 'too many token requests for this app', {
          retryAfter: decision.retryAfterSeconds,
          detail: { limit: 'token', client_id: app },
        });
      }
    }
    return handOver(c, await op.holder.get(), op.handOver);
  };
}

/**
 * portero as an OpenID Provider (`APP_<ID>_*`): oidc-provider's endpoints under PUBLIC_URL, the
 * interaction that connects them to portero's sign-in, and the discovery document they extend.
 * Mounted before portero's own routes: `/.well-known/openid-configuration` becomes the provider's
 * (with portero's `issuer`, `jwks_uri` and `userinfo_endpoint` unchanged), and `/userinfo` hands
 * the provider's (opaque) access tokens on while answering portero's own tokens as before.
 */
export function opRoutes(deps: HttpDeps, op: OpRouteDeps) {
  const app = new Hono<AppEnv>();
  const server = async (c: Context<AppEnv>) => handOver(c, await op.holder.get(), op.handOver);
  const browser = async (c: Context<AppEnv>) => handOver(c, await op.holder.get(), op.handOver, await browserSession(c, deps));

  app.get('/.well-known/openid-configuration', server);
  app.use('/authorize', rateLimit('authorize', op.authorizeLimit));
  app.on(['GET', 'POST'], '/authorize', browser);
  // The resumed authorization takes its parameters from the interaction, never from its query,
  // which only oidc-provider's error handler reads (a client_id there had it fail with a 500).
  app.get('/authorize/:uid', async (c) => {
    const { incoming } = nodeOf(c);
    incoming.url = incoming.url?.split('?')[0];
    return browser(c);
  });
  app.get('/interaction/:uid', interactionRoute(deps, op));
  // Refused before it is read, chunked or not: a token request is a few hundred bytes.
  app.post(
    '/token',
    bodyLimit({
      maxSize: MAX_TOKEN_BODY,
      onError: () => {
        throw new PorteroError(BAD_REQUEST, 'token request too large');
      },
    }),
    tokenRoute(op),
  );
  app.on(['GET', 'POST'], '/end-session', browser);
  app.post('/end-session/confirm', async (c) => {
    const response = await browser(c);
    const ended = endedOn(nodeOf(c).incoming);
    if (ended) reportEvents(c, [sessionEndedEvent(ended)]);
    return response;
  });
  app.get('/end-session/success', browser);
  // An opaque bearer token is the provider's (portero's own are JWTs): the provider's userinfo answers it.
  // A single-page app's preflight (CORS): the provider answers it, and allows the app's own origins.
  app.options('/token', server);
  app.options('/userinfo', server);
  app.on(['GET', 'POST'], '/userinfo', async (c, next) => {
    const bearer = bearerToken(c.req.header('authorization'));
    if (bearer !== undefined && !bearer.includes('.')) return server(c);
    await next();
  });
  return app;
}
