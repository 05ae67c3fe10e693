import { base64url } from 'jose';
import type { PorteroClaims } from './claims.js';

const SEGMENT = /^[A-Za-z0-9_-]*$/;

/**
 * Whether `token` is a compact JWS in the one encoding portero writes: three base64url segments
 * without padding, each of which decodes and encodes back to the same text. Base64 decoders take
 * other spellings of the same bytes (`=` padding, non-zero bits after the last byte), so without
 * this one token would have many accepted texts, each a different cache or deny-list key.
 */
export function isCanonicalJws(token: string): boolean {
  const segments = token.split('.');
  if (segments.length !== 3) return false;
  return segments.every((segment) => {
    if (!SEGMENT.test(segment)) return false;
    try {
      return base64url.encode(base64url.decode(segment)) === segment;
    } catch {
      return false;
    }
  });
}

/** 9999-12-31T23:59:59Z: a time past it is nobody's token (`exp: 1e308` once broke `/logout`). */
const LATEST = 253_402_300_799;

const isText = (value: unknown): value is string => typeof value === 'string';
const isName = (value: unknown) => isText(value) && value !== '';
const isTime = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= LATEST;
const optional = (check: (value: unknown) => boolean) => (value: unknown) => value === undefined || check(value);

/** Each claim of a portero token and what it must be; an absent optional claim passes. */
const SCHEMA: Readonly<Record<string, { readonly rule: string; readonly ok: (value: unknown) => boolean }>> = {
  iss: { rule: 'a string', ok: isText },
  aud: { rule: 'a string or an array of strings', ok: optional((v) => isText(v) || (Array.isArray(v) && v.every(isText))) },
  sub: { rule: 'a non-empty string', ok: isName },
  sid: { rule: 'a non-empty string', ok: isName },
  jti: { rule: 'a string', ok: isText },
  iat: { rule: 'a whole number of seconds', ok: isTime },
  exp: { rule: 'a whole number of seconds', ok: isTime },
  nbf: { rule: 'a whole number of seconds', ok: optional(isTime) },
  provider: { rule: 'a string', ok: isText },
  email: { rule: 'a string', ok: optional(isText) },
  email_verified: { rule: 'a boolean', ok: optional((v) => typeof v === 'boolean') },
  name: { rule: 'a string', ok: optional(isText) },
  preferred_username: { rule: 'a string', ok: optional(isText) },
  picture: { rule: 'a string', ok: optional(isText) },
  groups: { rule: 'an array of strings', ok: optional((v) => Array.isArray(v) && v.every(isText)) },
};

/**
 * Names a token may not carry as a provider's extra claim (`PROVIDER_<ID>_CLAIMS`): portero's own
 * claims above, and those that say something about the token rather than the user, which JWT and
 * OpenID libraries act on (`nonce`, `azp`, the hashes of other tokens, a `cnf` key it must be bound
 * to, OAuth's `client_id` and `scope`, `act`). Compared lower-cased: `Sub` beside `sub` misleads.
 */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  ...Object.keys(SCHEMA),
  ...['nonce', 'azp', 'at_hash', 'c_hash', 's_hash', 'cnf', 'client_id', 'scope', 'act', 'may_act'],
]);

/**
 * What is wrong with the claims of a validly signed token, or undefined when they are the claims
 * portero writes (`sub` and `sid` non-empty strings, times whole seconds before the year 10000,
 * the profile claims strings, `email_verified` a boolean). Checked after the signature: a token
 * portero signed with claims of another shape is refused, never half-read (`sub` an object gave a
 * 500, `sid` an array was accepted).
 */
export function claimsProblem(payload: Record<string, unknown>): string | undefined {
  for (const [name, { rule, ok }] of Object.entries(SCHEMA)) {
    if (!ok(payload[name])) return `${name} must be ${rule}`;
  }
  return undefined;
}

/** `payload` as portero's claims, once {@link claimsProblem} found nothing wrong. */
export const hasPorteroClaims = (payload: Record<string, unknown>): payload is PorteroClaims => claimsProblem(payload) === undefined;
