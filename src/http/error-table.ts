import type { ErrorCode } from '../errors.js';

/**
 * The `error` values of RFC 6749 (5.2 and 4.1.2.1) portero's codes map to, for OAuth endpoints
 * (a token endpoint): their clients switch on these, not on portero's own codes.
 */
export type OAuthErrorValue = 'invalid_request' | 'invalid_grant' | 'access_denied' | 'server_error' | 'temporarily_unavailable';

export interface ErrorPresentation {
  readonly status: 400 | 401 | 403 | 404 | 429 | 500 | 502 | 503 | 504;
  /** Page title and JSON `error_description`: what happened, in words a person understands. */
  readonly title: string;
  /** What the person can do about it. */
  readonly hint: string;
  /** Log level of the request's line: client mistakes are `info`, our or upstream trouble `warn`/`error`. */
  readonly level: 'info' | 'warn' | 'error';
  /** Offer a link back to the sign-in page. */
  readonly startAgain: boolean;
  /** The `error` an OAuth endpoint answers with; portero's own routes answer `error` = the code. */
  readonly oauthError: OAuthErrorValue;
}

/** The one place where an error code becomes an HTTP status, a message and a log level. */
export const errorTable: Readonly<Record<ErrorCode, ErrorPresentation>> = {
  not_found: {
    status: 404,
    title: 'Page not found',
    hint: 'Check the address.',
    level: 'info',
    startAgain: true,
    oauthError: 'invalid_request',
  },
  unknown_provider: {
    status: 404,
    title: 'Unknown sign-in provider',
    hint: 'This gateway has no provider by that name. Pick one from the sign-in page.',
    level: 'info',
    startAgain: true,
    oauthError: 'invalid_request',
  },
  bad_request: {
    status: 400,
    title: 'Bad request',
    hint: 'The request could not be understood.',
    level: 'info',
    startAgain: true,
    oauthError: 'invalid_request',
  },
  return_to_not_allowed: {
    status: 400,
    title: 'That return address is not allowed',
    hint: 'The page that sent you here asked to return you to an address this gateway does not serve.',
    level: 'info',
    startAgain: true,
    oauthError: 'invalid_request',
  },
  flow_invalid: {
    status: 400,
    title: 'Your sign-in expired or was not valid',
    hint: 'It may have taken too long, been used already, or been started in another browser. Please sign in again.',
    level: 'info',
    startAgain: true,
    oauthError: 'invalid_grant',
  },
  cross_site_request: {
    status: 403,
    title: 'This request came from another site',
    hint: 'For your safety, portero signs you out only when you ask on its own page or on an application it serves. To sign out, follow the link below to portero’s page and press Sign out there.',
    level: 'warn',
    startAgain: true,
    oauthError: 'invalid_request',
  },
  not_allowed: {
    status: 403,
    title: 'This account may not sign in here',
    hint: 'You signed in at the provider, but this service lets in only certain accounts. Sign in with another account, or ask the people who run this service for access.',
    level: 'info',
    startAgain: true,
    oauthError: 'access_denied',
  },
  identity_header_sent: {
    status: 403,
    title: 'This request named who sent it',
    hint: 'It carried an X-Auth-Request-* header of its own. Only this gateway tells the apps behind it who is signed in, so a request that brings such a header is refused, whoever sends it. Send it without that header.',
    level: 'warn',
    startAgain: true,
    oauthError: 'invalid_request',
  },
  access_denied: {
    status: 401,
    title: 'Sign-in was cancelled at the provider',
    hint: 'Access was denied at the sign-in provider. You can try again, or pick another provider.',
    level: 'info',
    startAgain: true,
    oauthError: 'access_denied',
  },
  provider_error: {
    status: 502,
    title: 'The sign-in provider reported an error',
    hint: 'The provider could not complete the sign-in. Please try again in a moment.',
    level: 'warn',
    startAgain: true,
    oauthError: 'server_error',
  },
  provider_unavailable: {
    status: 502,
    title: 'The sign-in provider cannot be reached',
    hint: 'Please try again in a moment.',
    level: 'error',
    startAgain: true,
    oauthError: 'temporarily_unavailable',
  },
  provider_timeout: {
    status: 504,
    title: 'The sign-in provider did not answer in time',
    hint: 'It may be slow or down. Please try again in a moment.',
    level: 'error',
    startAgain: true,
    oauthError: 'temporarily_unavailable',
  },
  token_exchange_failed: {
    status: 502,
    title: 'The sign-in provider did not accept the login',
    hint: 'Please sign in again. If it keeps failing, tell the people who run this service.',
    level: 'warn',
    startAgain: true,
    oauthError: 'server_error',
  },
  id_token_invalid: {
    status: 401,
    title: 'The sign-in provider sent an identity we cannot trust',
    hint: 'Its ID token did not validate. Please sign in again.',
    level: 'warn',
    startAgain: true,
    oauthError: 'server_error',
  },
  invalid_logout_token: {
    status: 400,
    title: 'The logout token is not valid',
    hint: 'The sign-in provider’s back-channel logout request did not carry a valid logout token; no session was ended.',
    level: 'warn',
    startAgain: true,
    oauthError: 'invalid_request',
  },
  backchannel_unsupported: {
    status: 404,
    title: 'This provider cannot sign people out over the back channel',
    hint: 'Back-channel logout needs an OpenID provider that publishes its signing keys (jwks_uri).',
    level: 'info',
    startAgain: true,
    oauthError: 'invalid_request',
  },
  profile_unavailable: {
    status: 502,
    title: 'Your profile could not be read from the sign-in provider',
    hint: 'Please try again in a moment.',
    level: 'warn',
    startAgain: true,
    oauthError: 'server_error',
  },
  unauthenticated: {
    status: 401,
    title: 'You are not signed in',
    hint: 'Please sign in.',
    level: 'info',
    startAgain: true,
    oauthError: 'invalid_grant',
  },
  rate_limited: {
    status: 429,
    title: 'Too many attempts',
    hint: 'Too many requests came from your network in a short time. Please wait a moment, then try again.',
    level: 'warn',
    startAgain: true,
    oauthError: 'temporarily_unavailable',
  },
  store_unavailable: {
    status: 503,
    title: 'Sign-in is temporarily unavailable',
    hint: 'Our session store is not answering. Please try again in a moment.',
    level: 'error',
    startAgain: true,
    oauthError: 'temporarily_unavailable',
  },
  internal: {
    status: 500,
    title: 'Something went wrong on our side',
    hint: 'Please try again. If it keeps failing, tell the people who run this service.',
    level: 'error',
    startAgain: true,
    oauthError: 'server_error',
  },
};
