import { bearerToken } from '../shared/bearer.js';
import { HOST_TOKEN_COOKIE } from '../shared/claims.js';
import { tokenCookie } from '../shared/cookie-header.js';
import type { PresentedTokens } from '../shared/presented-token.js';

/** Request headers as Node (`req.headers`) or the Fetch API (`request.headers`) hold them. */
export type RequestHeaders = { authorization?: string | undefined; cookie?: string | undefined } | Headers;

/**
 * The cookie portero sets the token in by default under an https `PUBLIC_URL` without
 * `COOKIE_DOMAIN`. Pass `auth_token` (or portero's `TOKEN_COOKIE_NAME`) when portero runs on plain
 * http or shares its cookie with COOKIE_DOMAIN.
 */
export const DEFAULT_COOKIE_NAME = HOST_TOKEN_COOKIE;

function header(headers: RequestHeaders, name: 'authorization' | 'cookie'): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** Both tokens a request may carry, for the rule of `Verifier.verifyRequest`. */
export function presentedTokens(headers: RequestHeaders, cookieName: string): PresentedTokens {
  return { bearer: bearerToken(header(headers, 'authorization')), cookie: tokenCookie(header(headers, 'cookie'), cookieName) };
}

/**
 * The token a request carries: from `Authorization: Bearer <token>` (API clients), or else from the
 * `cookieName` cookie (browsers), exactly as sent. `undefined` when neither, and when the request
 * carries more than one `cookieName` cookie (one may have been planted by a sibling subdomain).
 * For one token only; `verifier.verifyRequest(headers)` weighs both, as portero's `/auth` does,
 * and is what the middlewares use.
 *
 * @example
 * ```ts
 * tokenFrom(req.headers);                   // Node / Express
 * tokenFrom(request.headers, 'auth_token'); // Fetch API, portero on plain http or with COOKIE_DOMAIN
 * ```
 */
export function tokenFrom(headers: RequestHeaders, cookieName: string = DEFAULT_COOKIE_NAME): string | undefined {
  const { bearer, cookie } = presentedTokens(headers, cookieName);
  if (bearer) return bearer;
  return cookie.kind === 'one' ? cookie.token : undefined;
}
