import { ID_TOKEN_INVALID, NOT_ALLOWED, PorteroError, PROFILE_UNAVAILABLE } from '../errors.js';

/**
 * What a preset throws when the provider's data is unusable (no user id, a list that is not a
 * list): bad data from outside, not a programming mistake, so a coded error and never a TypeError.
 * `reason` is logged; the person sees the `profile_unavailable` page.
 */
export function profileRefused(reason: string, cause?: unknown): PorteroError {
  return new PorteroError(PROFILE_UNAVAILABLE, 'could not read the user profile from the provider', { cause, detail: { reason } });
}

/** What a preset's `checkIdToken` throws for an ID token its policy refuses (another tenant). */
export function idTokenRefused(reason: string): PorteroError {
  return new PorteroError(ID_TOKEN_INVALID, 'the provider sent an ID token that does not validate', { detail: { reason } });
}

/**
 * What a preset throws for a user its own access rule refuses (Google's hosted domain): the
 * `not_allowed` page (403) naming `account`, the rule (`PROVIDER_<ID>_HOSTED_DOMAIN`) in the log.
 */
export function accountRefused(rule: string, reason: string, account: string | undefined): PorteroError {
  return new PorteroError(NOT_ALLOWED, 'no access rule lets this account in', {
    detail: { rule, reason },
    ...(account ? { account } : {}),
  });
}
