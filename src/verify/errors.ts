/** The request carries no token: no `Authorization: Bearer` header and no token cookie. */
export const MISSING_TOKEN = 'missing_token';
/** The token is malformed, forged, expired, for another issuer or audience, or signed with an algorithm not allowed. */
export const INVALID_TOKEN = 'invalid_token';
/** portero's keys could not be fetched (the gateway is down or the JWKS URL is wrong): not the user's fault. */
export const JWKS_UNAVAILABLE = 'jwks_unavailable';

export type PorteroTokenErrorCode = typeof MISSING_TOKEN | typeof INVALID_TOKEN | typeof JWKS_UNAVAILABLE;

/**
 * A token was refused, or could not be checked. `code` is stable, so callers `switch` on it;
 * the underlying jose error (or fetch failure) is kept as `cause`.
 *
 * @example
 * ```ts
 * try {
 *   return await verifier.verify(token);
 * } catch (err) {
 *   if (!(err instanceof PorteroTokenError)) throw err;
 *   switch (err.code) {
 *     case 'missing_token':
 *     case 'invalid_token':
 *       return signIn();
 *     case 'jwks_unavailable':
 *       return serviceUnavailable();
 *   }
 * }
 * ```
 */
export class PorteroTokenError extends Error {
  readonly code: PorteroTokenErrorCode;

  constructor(code: PorteroTokenErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PorteroTokenError';
    this.code = code;
  }
}

/** A caller's mistake (bad option), thrown at once when a verifier or middleware is built. */
export function invalidOption(
  message: string,
  code: 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' = 'ERR_INVALID_ARG_VALUE',
): TypeError {
  return Object.assign(new TypeError(message), { code });
}
