import { NOT_ALLOWED, PorteroError } from '../errors.js';
import type { AccessRules, Profile } from '../providers/index.js';
import { lowerAscii, normalizeEmail } from '../shared/email.js';
import { EXTRA_CLAIMS_BUDGET } from './extra-claims.js';

/** Rules and the prefix of the variables that set them (`''` for the global ALLOWED_EMAIL_DOMAINS, `PROVIDER_CORP_`). */
export interface NamedRules {
  readonly prefix: string;
  readonly rules: AccessRules;
}

function refuse(rule: string, reason: string, account: string | undefined): never {
  throw new PorteroError(NOT_ALLOWED, 'no access rule lets this account in', {
    detail: { rule, reason },
    ...(account ? { account } : {}),
  });
}

/**
 * Refuses (`not_allowed`, 403) a user whom one of the rules does not let in; every rule must pass
 * (AND). Email rules read only a verified address, with exactly one `@`, and compare its whole
 * domain: `user@company.com.evil.com` and `attacker@evil.com@company.com` are not of company.com.
 */
export function checkAccess(profile: Profile, named: readonly NamedRules[]): void {
  const account = profile.email ?? profile.preferredUsername;
  for (const { prefix, rules } of named) {
    if (rules.groups && carriedGroups(profile, rules).length === 0) refuse(`${prefix}ALLOWED_GROUPS`, 'in no allowed group', account);
    if (rules.emailDomains === undefined && rules.emails === undefined) continue;
    const rule = `${prefix}${rules.emailDomains ? 'ALLOWED_EMAIL_DOMAINS' : 'ALLOWED_EMAILS'}`;
    if (profile.emailVerified !== true || profile.email === undefined) refuse(rule, 'no verified email', account);
    const email = normalizeEmail(profile.email);
    if (!email) refuse(rule, 'email not an address', account);
    if (rules.emailDomains && !rules.emailDomains.includes(email.domain)) refuse(`${prefix}ALLOWED_EMAIL_DOMAINS`, 'email domain', account);
    if (rules.emails && !rules.emails.includes(email.address)) refuse(`${prefix}ALLOWED_EMAILS`, 'email not listed', account);
  }
}

/**
 * The groups of `rules.groups` the user is in, spelt as the operator named them: what a token
 * carries (`groups`, and `X-Auth-Request-Groups` at `/auth`). Only these: a user in 500 groups
 * would not fit a cookie, and the apps need only the ones their rules test.
 */
export function carriedGroups(profile: Profile, rules: AccessRules): string[] {
  const theirs = new Set((profile.groups ?? []).map(lowerAscii));
  return (rules.groups ?? []).filter((group) => theirs.has(lowerAscii(group)));
}

/**
 * The groups the token carries, and whether the user's groups were left out. With
 * `_ALLOWED_GROUPS`, the ones it names that the user is in ({@link carriedGroups}), whatever
 * `_CLAIMS` says: what the apps' rules can test. Without, and with `groups` in `_CLAIMS`, all the
 * user's groups, whole, when they fit in {@link EXTRA_CLAIMS_BUDGET}; else none, since a list cut
 * short would tell an app the user is not in a group they are in.
 */
export function groupsForToken(
  profile: Profile,
  rules: AccessRules,
  claims: readonly string[] = [],
): { groups: string[]; leftOut: boolean } {
  if (rules.groups) return { groups: carriedGroups(profile, rules), leftOut: false };
  const all = profile.groups ?? [];
  if (!claims.includes('groups') || all.length === 0) return { groups: [], leftOut: false };
  const fits = Buffer.byteLength(JSON.stringify(all)) <= EXTRA_CLAIMS_BUDGET;
  return { groups: fits ? [...all] : [], leftOut: !fits };
}
