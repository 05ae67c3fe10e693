import type { ClaimValue, JsonObject } from '../providers/index.js';

/**
 * Bytes of JSON (`"name":value,` in UTF-8) that the claims of `PROVIDER_<ID>_CLAIMS` may take in
 * one token, together. A browser drops a cookie over about 4 KB without a word and the user then
 * loops between the app and the sign-in page; with this much for them, portero's own claims, a
 * long picture URL and an RS256 signature, the token still fits its cookie.
 */
export const EXTRA_CLAIMS_BUDGET = 1024;

export interface SelectedClaims {
  readonly claims: Readonly<Record<string, ClaimValue>>;
  /** Names the provider gave a value for that is not carried: not copyable (an object, a mixed array), or no room left. */
  readonly leftOut: readonly string[];
}

/** The value as a token carries it, or undefined for what is not a string, a finite number, a boolean or an array of strings. */
function copyable(value: unknown): ClaimValue | undefined {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return [...value];
  return undefined;
}

/**
 * The claims of `names` the sources hold, each from the first source that has it: the preset's
 * own (`Profile.extraClaims`), then the validated ID token, then userinfo. Whole or not at all:
 * an array is never cut, since a list of roles missing one would tell an app the user lacks it
 * (or, for a list that bars people, that they are not barred), while a missing claim says only
 * that portero does not know. In the order the operator named them, each that fits in what is
 * left of {@link EXTRA_CLAIMS_BUDGET} is carried; one that does not is left out, and the next tried.
 */
export function selectExtraClaims(names: readonly string[], sources: readonly (JsonObject | undefined)[]): SelectedClaims {
  // Entries, not assignments: a claim named `__proto__` stays a claim (Object.fromEntries defines it).
  const carried: [string, ClaimValue][] = [];
  const leftOut: string[] = [];
  let room = EXTRA_CLAIMS_BUDGET;
  for (const name of names) {
    const source = sources.find((candidate) => holds(candidate, name));
    if (!source) continue;
    const value = copyable(source[name]);
    const size = value === undefined ? Number.POSITIVE_INFINITY : Buffer.byteLength(`${JSON.stringify(name)}:${JSON.stringify(value)},`);
    if (value === undefined || size > room) {
      leftOut.push(name);
      continue;
    }
    carried.push([name, value]);
    room -= size;
  }
  return { claims: Object.fromEntries(carried), leftOut };
}

/**
 * Whether `source` gives `name` a value: its own property (never one inherited, `constructor`),
 * and not `null`, which is how APIs say "none" (GitHub's `company` of a user who named none).
 */
export const holds = (source: JsonObject | undefined, name: string): boolean =>
  source !== undefined && Object.hasOwn(source, name) && source[name] !== null && source[name] !== undefined;
