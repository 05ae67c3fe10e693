import { invalidOption, type PorteroTokenError, type PorteroTokenErrorCode } from './errors.js';
import { DEFAULT_COOKIE_NAME } from './token-from.js';
import { createVerifier, type Verifier, type VerifierOptions } from './verifier.js';

/** Options of {@link porteroAuth} and {@link expressAuth}: a verifier's options, or a verifier to share. */
export type AuthOptions = (VerifierOptions | { verifier: Verifier }) & {
  /**
   * The cookie the token is read from: portero's `TOKEN_COOKIE_NAME`. Default `__Host-auth_token`,
   * portero's own default under https without COOKIE_DOMAIN; `auth_token` otherwise.
   */
  cookieName?: string;
};

/** What both middlewares need, checked once when they are built. */
export function authSetup(options: AuthOptions): { verifier: Verifier; cookieName: string } {
  if (typeof options !== 'object' || options === null)
    throw invalidOption('the middleware needs an options object', 'ERR_INVALID_ARG_TYPE');
  const cookieName = options.cookieName ?? DEFAULT_COOKIE_NAME;
  if (typeof cookieName !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookieName)) {
    throw invalidOption(`"cookieName" option must be a cookie name, got ${JSON.stringify(cookieName)}`);
  }
  if ('verifier' in options) {
    if (typeof options.verifier?.verifyRequest !== 'function')
      throw invalidOption('"verifier" option must come from createVerifier()', 'ERR_INVALID_ARG_TYPE');
    return { verifier: options.verifier, cookieName };
  }
  return { verifier: createVerifier(options), cookieName };
}

/** How each refusal is answered over HTTP, in one place. */
const RESPONSES: Record<PorteroTokenErrorCode, { status: 401 | 503; wwwAuthenticate?: string }> = {
  // RFC 6750, 3.1: no error code when the request carried no credentials at all.
  missing_token: { status: 401, wwwAuthenticate: 'Bearer' },
  invalid_token: { status: 401, wwwAuthenticate: 'Bearer error="invalid_token"' },
  jwks_unavailable: { status: 503 },
};

/** The response to a refused request: status, headers and the JSON body `{"error": code}`. */
export function refusal(err: PorteroTokenError): {
  status: 401 | 503;
  headers: Record<string, string>;
  body: { error: PorteroTokenErrorCode };
} {
  const { status, wwwAuthenticate } = RESPONSES[err.code];
  return {
    status,
    headers: { 'cache-control': 'no-store', ...(wwwAuthenticate ? { 'www-authenticate': wwwAuthenticate } : {}) },
    body: { error: err.code },
  };
}
