/**
 * Every failure that portero reports to a person or an API client carries one of these codes.
 * The codes are stable: downstream clients may switch on them (`{"error": "flow_invalid"}`).
 * What each code means over HTTP (status, page text, log level, OAuth `error` value) lives in one
 * table, `src/http/error-table.ts`; nothing below `src/http` knows about status codes.
 */

/** No route by that name. */
export const NOT_FOUND = 'not_found';
/** `/login/<id>` or `/callback/<id>` names no configured provider. */
export const UNKNOWN_PROVIDER = 'unknown_provider';
/** The request is malformed (a callback POST that is not a form, a body too large). */
export const BAD_REQUEST = 'bad_request';
/** `return_to` names an address portero does not send people to. */
export const RETURN_TO_NOT_ALLOWED = 'return_to_not_allowed';
/** The callback belongs to no login of this browser: no or forged flow cookie, expired or replayed flow, state mismatch. */
export const FLOW_INVALID = 'flow_invalid';
/**
 * A state-changing request (`POST /logout`) came from a page of another site, not from portero's
 * own pages nor an ALLOWED_REDIRECTS origin.
 */
export const CROSS_SITE_REQUEST = 'cross_site_request';
/** The user declined at the provider. */
export const ACCESS_DENIED = 'access_denied';
/** The provider answered the authorization request with an error other than access_denied. */
export const PROVIDER_ERROR = 'provider_error';
/** The provider cannot be reached (discovery failed). */
export const PROVIDER_UNAVAILABLE = 'provider_unavailable';
/** The provider did not answer in full within PROVIDER_TIMEOUT (it hangs, or drips its answer). */
export const PROVIDER_TIMEOUT = 'provider_timeout';
/** The provider refused the code exchange, or answered it with something that is not a token response. */
export const TOKEN_EXCHANGE_FAILED = 'token_exchange_failed';
/** The provider's ID token (or its token response) does not validate. */
export const ID_TOKEN_INVALID = 'id_token_invalid';
/**
 * A back-channel logout token (OpenID Connect Back-Channel Logout 1.0, 2.6) does not hold up: no
 * valid signature by the provider's key, another issuer or audience, too old, replayed, or not a
 * logout token at all. The reason is in the error's detail, never the token.
 */
export const INVALID_LOGOUT_TOKEN = 'invalid_logout_token';
/** Back-channel logout was asked of a provider that cannot do it: an OAuth 2.0 provider, or one that publishes no `jwks_uri`. */
export const BACKCHANNEL_UNSUPPORTED = 'backchannel_unsupported';
/** The user's profile cannot be read from the provider, or is not usable. */
export const PROFILE_UNAVAILABLE = 'profile_unavailable';
/** The user signed in at the provider, but no access rule lets this account in (or `/auth`'s rules refuse it). */
export const NOT_ALLOWED = 'not_allowed';
/**
 * A request to `/auth` carried one of the identity headers portero answers with
 * (`X-Auth-Request-User`, ...), in any spelling: a client trying to name itself, which a proxy
 * that passes the client's headers on would otherwise hand to the app.
 */
export const IDENTITY_HEADER_SENT = 'identity_header_sent';
/** No valid portero token was presented (`/auth`, `/userinfo`). */
export const UNAUTHENTICATED = 'unauthenticated';
/** Too many requests from one client; the error carries when to try again. */
export const RATE_LIMITED = 'rate_limited';
/** The shared store does not answer. */
export const STORE_UNAVAILABLE = 'store_unavailable';
/** A bug: anything thrown that is not a PorteroError. */
export const INTERNAL = 'internal';

export type ErrorCode =
  | typeof NOT_FOUND
  | typeof UNKNOWN_PROVIDER
  | typeof BAD_REQUEST
  | typeof RETURN_TO_NOT_ALLOWED
  | typeof FLOW_INVALID
  | typeof CROSS_SITE_REQUEST
  | typeof ACCESS_DENIED
  | typeof PROVIDER_ERROR
  | typeof PROVIDER_UNAVAILABLE
  | typeof PROVIDER_TIMEOUT
  | typeof TOKEN_EXCHANGE_FAILED
  | typeof ID_TOKEN_INVALID
  | typeof INVALID_LOGOUT_TOKEN
  | typeof BACKCHANNEL_UNSUPPORTED
  | typeof PROFILE_UNAVAILABLE
  | typeof NOT_ALLOWED
  | typeof IDENTITY_HEADER_SENT
  | typeof UNAUTHENTICATED
  | typeof RATE_LIMITED
  | typeof STORE_UNAVAILABLE
  | typeof INTERNAL;

/** Safe, non-secret facts for the log line (never tokens, codes or cookie values). */
export type ErrorDetail = Readonly<Record<string, string | number | boolean | undefined>>;

export interface PorteroErrorOptions {
  readonly cause?: unknown;
  readonly detail?: ErrorDetail;
  /** Seconds after which trying again may succeed (`Retry-After`): `rate_limited`, a provider in its retry backoff. */
  readonly retryAfter?: number;
  /** The account the user tried (`not_allowed`), shown on the page so they can switch; theirs, no secret. */
  readonly account?: string;
}

/**
 * A failure with a stable `code`. Thrown by every layer (flow, store, providers) for bad data from
 * outside and for refusals; a caller's mistake (a wrong argument, a bad preset) is a `TypeError`.
 * The lower-level error, when there is one, is kept as `cause`.
 */
export class PorteroError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly detail: ErrorDetail;
  readonly retryAfter: number | undefined;
  readonly account: string | undefined;

  constructor(code: C, message: string, options: PorteroErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PorteroError';
    this.code = code;
    this.detail = options.detail ?? {};
    this.retryAfter = options.retryAfter;
    this.account = options.account;
  }
}

/**
 * Whether `err` is a PorteroError, and of `code` when one is given.
 *
 * @example
 * ```ts
 * if (isPorteroError(err, UNAUTHENTICATED)) return undefined; // not signed in; a store outage still throws
 * ```
 */
export function isPorteroError<C extends ErrorCode>(err: unknown, code?: C): err is PorteroError<C> {
  return err instanceof PorteroError && (code === undefined || err.code === code);
}
