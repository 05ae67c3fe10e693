import type { JsonObject, Profile } from './types.js';

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);

const identifier = (value: unknown): string | undefined =>
  typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : text(value);

/** `value` when it is a JSON object (not an array, not null), for reading a provider's nested answers. */
export const asObject = (value: unknown): JsonObject | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;

/** The first of `names` that holds a non-empty string (or integer) in `source`. */
export function pick(source: JsonObject | undefined, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = identifier(source?.[name]);
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * A profile from OpenID Connect standard claims, the ID token's first, then userinfo's.
 * `email_verified` is only believed together with the email it speaks of.
 */
export function profileFromStandardClaims(
  sources: readonly (JsonObject | undefined)[],
  subjectClaims: readonly string[] = ['sub'],
): Profile | undefined {
  const first = (...names: string[]) => {
    for (const source of sources) {
      const value = pick(source, ...names);
      if (value !== undefined) return value;
    }
    return undefined;
  };
  const subject = first(...subjectClaims);
  if (subject === undefined) return undefined;
  const email = first('email');
  // The first source that names this address and says whether it is verified: a thin ID token
  // (Okta's, in the code flow) names the address but leaves `email_verified` to userinfo.
  const verifiedIn = sources.find((source) => source && text(source.email) === email && source.email_verified !== undefined);
  const verified = verifiedIn?.email_verified;
  return {
    subject,
    email,
    emailVerified: email !== undefined && (verified === true || verified === 'true'),
    name: first('name'),
    preferredUsername: first('preferred_username'),
    picture: first('picture'),
  };
}

/**
 * The user's groups from `claim` of the first source that has it: an array of strings (the others
 * in it skipped), or one string. Undefined when no source says.
 */
export function groupsFrom(sources: readonly (JsonObject | undefined)[], claim: string): readonly string[] | undefined {
  for (const source of sources) {
    const value = source?.[claim];
    if (typeof value === 'string' && value !== '') return [value];
    if (Array.isArray(value)) return value.filter((group): group is string => typeof group === 'string' && group !== '');
  }
  return undefined;
}
