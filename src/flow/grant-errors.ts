import * as client from 'openid-client';
import {
  ACCESS_DENIED,
  type ErrorCode,
  ID_TOKEN_INVALID,
  isPorteroError,
  PorteroError,
  PROFILE_UNAVAILABLE,
  PROVIDER_ERROR,
  TOKEN_EXCHANGE_FAILED,
} from '../errors.js';

// openid-client's codes (its ClientError carries oauth4webapi's) for a response that arrived but
// does not hold up: a JWT claim or timestamp, no key for the signature, a response of the wrong shape.
const VALIDATION_CODES = new Set<string>([
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_KEY_SELECTION_FAILED',
  'OAUTH_INVALID_RESPONSE',
]);

const oauthErrorOf = (error: unknown) => (typeof error === 'string' ? { oauth_error: error.slice(0, 64) } : {});

/** A preset's own refusal (`profileRefused`, `idTokenRefused`), with the provider named for the log line. */
const withProvider = (error: PorteroError, provider: string) =>
  new PorteroError(error.code, error.message, { cause: error.cause, detail: { provider, ...error.detail } });

/**
 * Sorts what openid-client threw during the code exchange (or the preset's `checkIdToken` after
 * it), by its error classes:
 * - `ResponseBodyError`: the token endpoint answered an OAuth error (`invalid_grant`): token_exchange_failed;
 * - `AuthorizationResponseError`: the callback carried the provider's error: access_denied or provider_error;
 * - a `ClientError` of a validation code from an OpenID provider: its token response, ID token
 *   included, does not validate (signature, iss, aud, exp, nonce, shape): id_token_invalid;
 * - anything else (a plain OAuth 2.0 provider's malformed answer, a timeout, a refused connection):
 *   token_exchange_failed.
 * The provider's response body is kept only as `cause`, never in the message a person sees.
 */
export function classifyGrantError(cause: unknown, provider: string, protocol: 'oidc' | 'oauth2'): PorteroError {
  if (isPorteroError(cause)) return withProvider(cause, provider);
  if (cause instanceof client.ResponseBodyError) {
    return new PorteroError(TOKEN_EXCHANGE_FAILED, 'the provider did not accept the login', {
      cause,
      detail: { provider, reason: cause.message, status: cause.status, oauth_code: cause.code, ...oauthErrorOf(cause.error) },
    });
  }
  if (cause instanceof client.AuthorizationResponseError) {
    const code: ErrorCode = cause.error === 'access_denied' ? ACCESS_DENIED : PROVIDER_ERROR;
    return new PorteroError(code, `the provider answered ${cause.error.slice(0, 64)}`, {
      cause,
      detail: { provider, ...oauthErrorOf(cause.error) },
    });
  }
  if (cause instanceof client.ClientError && protocol === 'oidc' && cause.code !== undefined && VALIDATION_CODES.has(cause.code)) {
    const reason = cause.cause instanceof Error ? cause.cause.message : cause.message;
    return new PorteroError(ID_TOKEN_INVALID, 'the provider sent an ID token that does not validate', {
      cause,
      detail: { provider, reason, oauth_code: cause.code },
    });
  }
  return new PorteroError(TOKEN_EXCHANGE_FAILED, 'the provider did not accept the login', {
    cause,
    detail: {
      provider,
      reason: cause instanceof Error ? cause.message : String(cause),
      ...(cause instanceof client.ClientError && cause.code ? { oauth_code: cause.code } : {}),
    },
  });
}

/**
 * Sorts what failed while reading the profile: the preset's own refusal (kept, with the provider
 * named), a userinfo endpoint refusing the access token (`WWWAuthenticateChallengeError`), or any
 * other failure: all profile_unavailable.
 */
export function classifyProfileError(cause: unknown, provider: string): PorteroError {
  if (isPorteroError(cause)) return withProvider(cause, provider);
  const challenge = cause instanceof client.WWWAuthenticateChallengeError ? cause.cause[0] : undefined;
  return new PorteroError(PROFILE_UNAVAILABLE, 'could not read the user profile from the provider', {
    cause,
    detail: {
      provider,
      reason: cause instanceof Error ? cause.message : String(cause),
      ...(challenge ? { status: (cause as client.WWWAuthenticateChallengeError).status, oauth_error: challenge.parameters.error } : {}),
    },
  });
}
