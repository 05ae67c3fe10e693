import type { Context } from 'hono';
import { isPorteroError, PorteroError, STORE_UNAVAILABLE, UNAUTHENTICATED } from '../errors.js';
import type { RenewedToken } from '../flow/session-lifecycle.js';
import { ENDED_AT_PROVIDER_REASON } from '../flow/session-refresh.js';
import { bearerToken } from '../shared/bearer.js';
import type { PorteroClaims } from '../shared/claims.js';
import { chooseToken } from '../shared/presented-token.js';
import type { HttpDeps } from './deps.js';
import { reportEvents, sessionEndedEvent, tokenRenewedEvent } from './security-events.js';
import type { AppEnv } from './types.js';

/**
 * The refusal of a request that presents no token: most of what /auth refuses (every first visit,
 * every asset before sign-in), built once. A new error each time captured a stack each time, for a
 * line that never shows one. Frozen, as it is shared.
 */
const NO_TOKEN = Object.freeze(
  new PorteroError(UNAUTHENTICATED, 'not signed in: no token', { detail: Object.freeze({ reason: 'no token' }) }),
);

export interface Authenticated {
  readonly token: string;
  readonly claims: PorteroClaims;
}

/**
 * The token that identifies the request and its claims, by the rule of `chooseToken`
 * (src/shared/presented-token.ts): a token portero did not issue (its signature does not verify
 * against portero's keys) beside one it did is ignored; of portero's own a bearer wins over the
 * cookie, and every one must be valid, not revoked, and name the same `sub` and `sid`; several
 * token cookies count as not signed in.
 */
export async function authenticate(c: Context, deps: HttpDeps): Promise<Authenticated> {
  const choice = await chooseToken(
    { bearer: bearerToken(c.req.header('authorization')), cookie: deps.cookies.readToken(c) },
    { signedByPortero: (token) => deps.sessions.signedByPortero(token), check: (token) => deps.sessions.authenticate(token) },
  );
  if (!choice.ok && choice.reason === 'no token') throw NO_TOKEN;
  if (!choice.ok) throw new PorteroError(UNAUTHENTICATED, `not signed in: ${choice.reason}`, { detail: { reason: choice.reason } });
  return choice;
}

/** The one token cookie of a request with no bearer token: what a browser renews. */
function loneCookie(c: Context, deps: HttpDeps): string | undefined {
  const cookie = deps.cookies.readToken(c);
  return cookie.kind === 'one' && bearerToken(c.req.header('authorization')) === undefined ? cookie.token : undefined;
}

/** A renewal that found the provider had ended the session (`invalid_grant`) ended it here too: reported. */
function reportEndedAtProvider(c: Context<AppEnv>, claims: PorteroClaims, failure: unknown): void {
  if (isPorteroError(failure, UNAUTHENTICATED) && failure.detail.reason === ENDED_AT_PROVIDER_REASON) {
    reportEvents(c, [sessionEndedEvent({ ...claims, kind: 'invalid_grant' })]);
  }
}

/** Sets the renewed token's cookie and reports the renewal. */
function handOut(c: Context<AppEnv>, deps: HttpDeps, renewed: RenewedToken, via: 'auth' | 'refresh'): Authenticated {
  deps.cookies.setToken(c, renewed.token, renewed.sessionLeft);
  reportEvents(c, [tokenRenewedEvent(renewed.claims, via, renewed.refreshed)]);
  return renewed;
}

/**
 * `authenticate` for a browser whose session lives on after its token: a cookie's token with less
 * than half its life left is renewed in passing (kept as it is should renewal fail: it is still
 * valid), and an expired one is renewed while its session lives. The renewed token goes back in
 * `Set-Cookie`, which nginx passes on (`auth_request_set`). A bearer token is never renewed here:
 * an API client asks `POST /refresh`.
 */
export async function authenticateRenewing(c: Context<AppEnv>, deps: HttpDeps): Promise<Authenticated> {
  let current: Authenticated;
  try {
    current = await authenticate(c, deps);
  } catch (err) {
    const cookie = isPorteroError(err, UNAUTHENTICATED) && err.detail.reason === 'ERR_JWT_EXPIRED' ? loneCookie(c, deps) : undefined;
    if (cookie === undefined) throw err;
    const claims = await deps.sessions.verifyForRenewal(cookie).catch(() => Promise.reject(err));
    const renewed = await deps.lifecycle.renewShared(claims).catch((failure: unknown) => {
      reportEndedAtProvider(c, claims, failure);
      // A store that cannot answer is a 503, as anywhere; any other failure leaves the token as refused.
      return Promise.reject(isPorteroError(failure, STORE_UNAVAILABLE) ? failure : err);
    });
    return handOut(c, deps, renewed, 'auth');
  }
  const halfLife = deps.tokens.ttl / 2;
  // The time first: most requests carry a fresh token, and need nothing more.
  if (current.claims.exp - deps.clock.now() / 1000 > halfLife || current.token !== loneCookie(c, deps)) return current;
  const renewed = await deps.lifecycle.renewShared(current.claims).catch((failure: unknown) => {
    reportEndedAtProvider(c, current.claims, failure);
    return undefined;
  });
  return renewed ? handOut(c, deps, renewed, 'auth') : current;
}

/** `POST /refresh`: a new token for the presented one's session, expired or not, for as long as the session lives. */
export async function renewPresented(c: Context<AppEnv>, deps: HttpDeps): Promise<RenewedToken> {
  const bearer = bearerToken(c.req.header('authorization'));
  const cookie = deps.cookies.readToken(c);
  const token = bearer ?? (cookie.kind === 'one' ? cookie.token : undefined);
  if (token === undefined)
    throw cookie.kind === 'several'
      ? new PorteroError(UNAUTHENTICATED, 'not signed in: several token cookies', { detail: { reason: 'several token cookies' } })
      : NO_TOKEN;
  const claims = await deps.sessions.verifyForRenewal(token);
  const renewed = await deps.lifecycle.renew(claims).catch((failure: unknown) => {
    reportEndedAtProvider(c, claims, failure);
    throw failure;
  });
  handOut(c, deps, renewed, 'refresh');
  return renewed;
}
