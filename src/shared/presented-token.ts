import type { TokenCookie } from './cookie-header.js';

/** The tokens a request presents: `Authorization: Bearer` (API clients) and the token cookie (browsers). */
export interface PresentedTokens {
  readonly bearer: string | undefined;
  readonly cookie: TokenCookie;
}

/** How one side (the gateway, `portero/verify`) checks a token: the same rule runs on both. */
export interface TokenChecks<C> {
  /**
   * Whether portero issued `token`, which here means: its signature verifies against one of
   * portero's published keys, with an allowed algorithm. Nothing else (a token of the app's own,
   * another issuer's, a tampered copy) is portero's. Rejects only when the keys cannot be had.
   */
  signedByPortero(token: string): Promise<boolean>;
  /** The claims of a token that passes every check; rejects for one that does not. */
  check(token: string): Promise<C>;
}

export type TokenChoice<C> =
  | { readonly ok: true; readonly token: string; readonly claims: C }
  | { readonly ok: false; readonly reason: 'no token' | 'several token cookies' | 'tokens disagree' };

/**
 * Which token identifies a request, by one rule for the gateway's `/auth` and `portero/verify`:
 *
 * - more than one token cookie: not signed in (see {@link TokenCookie});
 * - a token portero did not issue ({@link TokenChecks.signedByPortero}) beside one it did is
 *   ignored, so an app's own bearer token does not hide its user's cookie (nor a junk cookie an
 *   API client's token);
 * - of portero's own tokens the bearer wins over the cookie; but every one presented must pass
 *   `check` (on the gateway: not revoked either), and all must name the same `sub` and `sid`.
 *   Otherwise a request with one's own cookie and someone else's (revoked) token could be one
 *   person to the gateway and another to the app behind it.
 *
 * A single token, portero's or not, is checked, so its refusal says why.
 */
export async function chooseToken<C extends { sub: string; sid: string }>(
  presented: PresentedTokens,
  checks: TokenChecks<C>,
): Promise<TokenChoice<C>> {
  if (presented.cookie.kind === 'several') return { ok: false, reason: 'several token cookies' };
  const cookie = presented.cookie.kind === 'one' ? presented.cookie.token : undefined;
  let tokens = [presented.bearer, cookie].filter((token): token is string => token !== undefined);
  if (tokens.length === 0) return { ok: false, reason: 'no token' };
  if (tokens.length === 2) {
    const own: string[] = [];
    for (const token of tokens) if (await checks.signedByPortero(token)) own.push(token);
    // Neither is portero's: the cookie (portero's name) is checked, and refused for what it is.
    tokens = own.length > 0 ? own : tokens.slice(1);
  }
  const [first, ...others] = tokens as [string, ...string[]];
  const claims = await checks.check(first);
  for (const other of others) {
    const more = await checks.check(other);
    if (more.sub !== claims.sub || more.sid !== claims.sid) return { ok: false, reason: 'tokens disagree' };
  }
  return { ok: true, token: first, claims };
}
