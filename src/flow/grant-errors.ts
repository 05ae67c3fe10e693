import * as client from 'openid-client';
import {
  ACCESS_DENIED,
  type ErrorCode,
  ID_TOKEN_INVALID,
  isPorteroError,
  PorteroError,
  PROFILE_UNAVAILABLE,
  PROVIDER_ERROR,
  PROVIDER_TIMEOUT,
  PROVIDER_UNAVAILABLE,
  TOKEN_EXCHANGE_FAILED,
} from '../errors.js';

// openid-client's codes (its ClientError carries oauth4webapi's) for a JWT that arrived but does
// not hold up: a claim, a timestamp, no key for its signature.
const JWT_CODES = new Set<string>(['OAUTH_JWT_TIMESTAMP_CHECK_FAILED', 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', 'OAUTH_KEY_SELECTION_FAILED']);

/**
 * Whether an `OAUTH_INVALID_RESPONSE` is about the ID token. oauth4webapi gives such an error the
 * JWT's parts as its cause (the claims, the header, the compact token, the signature), and a
 * malformed answer its body or the callback's parameters (no access token, no `iss`).
 */
function aboutTheIdToken(problem: unknown): boolean {
  if (typeof problem === 'string') return true;
  return typeof problem === 'object' && problem !== null && ('claims' in problem || 'header' in problem || 'signature' in problem);
}

function isIdTokenProblem(error: client.ClientError): boolean {
  if (error.code !== undefined && JWT_CODES.has(error.code)) return true;
  const operation = error.cause instanceof Error ? (error.cause as Error & { cause?: unknown }) : undefined;
  return error.code === 'OAUTH_INVALID_RESPONSE' && aboutTheIdToken(operation?.cause);
}

/** The message of what went wrong underneath (oauth4webapi's), which says more than openid-client's. */
/**
 * A system or network error's own code (`ECONNREFUSED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `UND_ERR_…`);
 * or fetch's refusal of a port the Fetch standard blocks (9, 6000, 10080, …), which has none.
 */
const hasCode = (error: Error) => typeof (error as NodeJS.ErrnoException).code === 'string' || error.message === 'bad port';

/**
 * What went wrong, for the log: the error's message, then those of the coded errors under it, so
 * that `fetch failed` says why (`fetch failed: connect ECONNREFUSED 127.0.0.1:9`, a TLS error).
 * Only coded causes (the network's and TLS's, which name addresses and codes): a parser's
 * SyntaxError under them quotes the provider's body, which must not reach the log.
 */
export function reasonOf(error: unknown): string {
  const top = error instanceof client.ClientError && error.cause instanceof Error ? error.cause : error;
  if (!(top instanceof Error)) return String(error).slice(0, 300);
  const messages = [top.message];
  let current = top.cause;
  for (let depth = 0; current instanceof Error && hasCode(current) && depth < 3; depth++) {
    if (!messages.includes(current.message)) messages.push(current.message);
    current = current.cause;
  }
  return messages.join(': ').slice(0, 300);
}

const oauthErrorOf = (error: unknown) => (typeof error === 'string' ? { oauth_error: error.slice(0, 64) } : {});

/**
 * The `error` of a token response that is no error response: GitHub answers its refusals with HTTP
 * 200 and `{"error": "bad_verification_code"}`, which oauth4webapi reports as a response without
 * an access token, keeping the body as its cause. Only the code, for the log; never the description.
 */
function errorInBody(error: unknown): unknown {
  if (!(error instanceof client.ClientError) || !(error.cause instanceof Error)) return undefined;
  const body = (error.cause as Error & { cause?: { body?: unknown } }).cause?.body;
  return typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
}

/**
 * Whether the provider did not answer in full within PROVIDER_TIMEOUT: the deadline of
 * `boundedFetch` (or openid-client's own), which openid-client reports as `OAUTH_TIMEOUT`.
 */
function isTimeout(error: unknown): boolean {
  if (error instanceof client.ClientError && error.code === 'OAUTH_TIMEOUT') return true;
  return error instanceof DOMException && error.name === 'TimeoutError';
}

const timedOut = (cause: unknown, provider: string, what: string) =>
  new PorteroError(PROVIDER_TIMEOUT, `the provider did not answer ${what} in time`, {
    cause,
    detail: { provider, reason: reasonOf(cause) },
  });

/**
 * Sorts what failed while discovering a provider: it did not answer in time (provider_timeout), or
 * anything else: it cannot be reached, or answered something that is not a discovery document
 * (provider_unavailable). `retryAfter`: when the next login may try again; `url`: where it was asked.
 */
export function classifyDiscoveryError(cause: unknown, provider: string, retryAfter: number, url?: string): PorteroError {
  const options = { cause, detail: { provider, ...(url ? { url } : {}), reason: reasonOf(cause) }, retryAfter };
  if (isTimeout(cause)) return new PorteroError(PROVIDER_TIMEOUT, `${provider} did not answer discovery in time`, options);
  return new PorteroError(PROVIDER_UNAVAILABLE, `cannot reach ${provider} for discovery`, options);
}

/** A preset's own refusal (`profileRefused`, `idTokenRefused`), with the provider named for the log line. */
/** The same error, its log line naming the provider; everything else it carries is kept. */
const withProvider = (error: PorteroError, provider: string) =>
  new PorteroError(error.code, error.message, {
    cause: error.cause,
    detail: { provider, ...error.detail },
    ...(error.retryAfter !== undefined ? { retryAfter: error.retryAfter } : {}),
    ...(error.account !== undefined ? { account: error.account } : {}),
  });

/**
 * Sorts what openid-client threw during the code exchange (or the preset's `checkIdToken` after
 * it), by its error classes:
 * - `ResponseBodyError`: the token endpoint answered an OAuth error (`invalid_grant`): token_exchange_failed;
 * - `AuthorizationResponseError`: the callback carried the provider's error: access_denied or provider_error;
 * - a `ClientError` about the ID token (signature, iss, aud, exp, nonce): id_token_invalid;
 * - no whole answer within PROVIDER_TIMEOUT (token endpoint or JWKS): provider_timeout;
 * - anything else (a malformed or oversized token response, GitHub's 200 with an `error`, a refused
 *   connection): token_exchange_failed.
 * The provider's response body is kept only as `cause`, never in the message a person sees.
 */
export function classifyGrantError(cause: unknown, provider: string): PorteroError {
  if (isPorteroError(cause)) return withProvider(cause, provider);
  if (cause instanceof client.ResponseBodyError) {
    return new PorteroError(TOKEN_EXCHANGE_FAILED, 'the provider did not accept the login', {
      cause,
      detail: { provider, reason: cause.message, provider_status: cause.status, oauth_code: cause.code, ...oauthErrorOf(cause.error) },
    });
  }
  if (cause instanceof client.AuthorizationResponseError) {
    const code: ErrorCode = cause.error === 'access_denied' ? ACCESS_DENIED : PROVIDER_ERROR;
    return new PorteroError(code, `the provider answered ${cause.error.slice(0, 64)}`, {
      cause,
      detail: { provider, ...oauthErrorOf(cause.error) },
    });
  }
  if (cause instanceof client.ClientError && isIdTokenProblem(cause)) {
    return new PorteroError(ID_TOKEN_INVALID, 'the provider sent an ID token that does not validate', {
      cause,
      detail: { provider, reason: reasonOf(cause), oauth_code: cause.code },
    });
  }
  if (isTimeout(cause)) return timedOut(cause, provider, 'the code exchange');
  return new PorteroError(TOKEN_EXCHANGE_FAILED, 'the provider did not accept the login', {
    cause,
    detail: {
      provider,
      reason: reasonOf(cause),
      ...(cause instanceof client.ClientError && cause.code ? { oauth_code: cause.code } : {}),
      ...oauthErrorOf(errorInBody(cause)),
    },
  });
}

/**
 * Sorts what failed while reading the profile: the preset's own refusal (kept, with the provider
 * named), a userinfo endpoint refusing the access token (`WWWAuthenticateChallengeError`), or any
 * other failure: all profile_unavailable; but no whole answer within PROVIDER_TIMEOUT is provider_timeout.
 */
export function classifyProfileError(cause: unknown, provider: string): PorteroError {
  if (isPorteroError(cause)) return withProvider(cause, provider);
  if (isTimeout(cause)) return timedOut(cause, provider, 'the profile request');
  const challenged = cause instanceof client.WWWAuthenticateChallengeError ? cause : undefined;
  return new PorteroError(PROFILE_UNAVAILABLE, 'could not read the user profile from the provider', {
    cause,
    detail: {
      provider,
      reason: reasonOf(cause),
      ...(challenged
        ? { provider_status: challenged.status, oauth_code: challenged.code, ...oauthErrorOf(challenged.cause[0]?.parameters.error) }
        : {}),
    },
  });
}
