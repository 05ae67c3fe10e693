import { parseCookie } from 'cookie';
import { bearerToken } from '../shared/bearer.js';
import { DEFAULT_TOKEN_COOKIE } from '../shared/claims.js';

/** Request headers as Node (`req.headers`) or the Fetch API (`request.headers`) hold them. */
export type RequestHeaders = { authorization?: string | undefined; cookie?: string | undefined } | Headers;

/** The cookie portero sets the token in (`TOKEN_COOKIE_NAME`). */
export const DEFAULT_COOKIE_NAME = DEFAULT_TOKEN_COOKIE;

function header(headers: RequestHeaders, name: 'authorization' | 'cookie'): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The token a request carries: from `Authorization: Bearer <token>` (API clients), or else from the
 * `cookieName` cookie (browsers). `undefined` when neither. (portero's own `/auth` tries both,
 * cookie first; a backend that is handed one token wants the explicit header to win.)
 *
 * @example
 * ```ts
 * tokenFrom(req.headers);                 // Node / Express
 * tokenFrom(request.headers, 'my_token'); // Fetch API, a custom TOKEN_COOKIE_NAME
 * ```
 */
export function tokenFrom(headers: RequestHeaders, cookieName: string = DEFAULT_COOKIE_NAME): string | undefined {
  const bearer = bearerToken(header(headers, 'authorization'));
  if (bearer) return bearer;
  const cookies = header(headers, 'cookie');
  return cookies ? parseCookie(cookies)[cookieName] || undefined : undefined;
}
