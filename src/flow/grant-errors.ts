import * as client from 'openid-client';
import { PorteroError } from '../errors.js';

// openid-client codes for an ID token that arrived but does not hold up (signature, iss, aud, exp, nonce).
const ID_TOKEN_CODES = new Set<string>([
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_KEY_SELECTION_FAILED',
]);

function isIdTokenProblem(err: client.ClientError): boolean {
  if (err.code && ID_TOKEN_CODES.has(err.code)) return true;
  const cause = err.cause as { message?: unknown } | undefined;
  return err.code === 'OAUTH_INVALID_RESPONSE' && /JWT|ID Token|id_token/i.test(String(cause?.message ?? err.message));
}

/**
 * Sorts what openid-client threw during the code exchange: the provider refusing the code or
 * failing (502), or an ID token that does not validate (401). The provider's response body is
 * kept only as `cause`, never in the user-facing message.
 */
export function classifyGrantError(cause: unknown, provider: string): PorteroError {
  if (cause instanceof PorteroError) return cause;
  if (cause instanceof client.ClientError && isIdTokenProblem(cause)) {
    const reason = (cause.cause as Error | undefined)?.message ?? cause.message;
    return new PorteroError('id_token_invalid', 'the provider sent an ID token that does not validate', {
      cause,
      detail: { provider, reason, oauth_code: cause.code },
    });
  }
  const oauthError = (cause as { error?: unknown }).error;
  return new PorteroError('token_exchange_failed', 'the provider did not accept the login', {
    cause,
    detail: {
      provider,
      reason: (cause as Error).message,
      ...(typeof oauthError === 'string' ? { oauth_error: oauthError } : {}),
      ...((cause as { code?: unknown }).code ? { oauth_code: String((cause as { code?: unknown }).code) } : {}),
    },
  });
}

export function profileError(cause: unknown, provider: string): PorteroError {
  if (cause instanceof PorteroError) return cause;
  return new PorteroError('profile_unavailable', 'could not read the user profile from the provider', {
    cause,
    detail: { provider, reason: (cause as Error).message },
  });
}
