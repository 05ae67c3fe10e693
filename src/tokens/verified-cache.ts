import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { PorteroClaims } from '../shared/claims.js';

/** Entries kept at most: a few MB of claims, whatever the number of distinct tokens presented. */
export const VERIFIED_CACHE_MAX_ENTRIES = 10_000;

interface Entry {
  readonly claims: PorteroClaims;
  /** ms since the epoch: the token's `exp`. */
  readonly expiresAt: number;
}

/** A deep enough freeze for claims: callers share one object, so none may change it for the next. */
function frozen(claims: PorteroClaims): PorteroClaims {
  if (claims.groups) Object.freeze(claims.groups);
  if (Array.isArray(claims.aud)) Object.freeze(claims.aud);
  return Object.freeze(claims);
}

/**
 * The claims of tokens that passed every check of `Sessions.verify` (signature, `typ`, issuer,
 * audience, times, shape), so that a token seen recently is not verified again. What such a check
 * decides cannot change for the same bytes under the same keys until the token expires, except
 * that time passes: so an entry lives until the token's `exp` and not a moment longer (a fresh
 * verify, with its clock skew, decides after that). Revocation is not cached here: it is asked on
 * every request.
 *
 * Keyed by the SHA-256 of the whole token, never by a part of it (a cached signature beside
 * another payload must not pass), and never holding the token itself (a heap dump shows no
 * usable token). At most `maxEntries`, least recently used evicted first: a flood of distinct
 * valid tokens costs verifications, not memory.
 *
 * One cache belongs to one key set of one `Sessions`: when JWT_KEYS is reloaded (or read anew by
 * a restart), the new keys start with an empty cache, so nothing verified under a key that was
 * retired survives the reload.
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, Entry>();
  readonly #clock: Clock;
  readonly #maxEntries: number;

  constructor(clock: Clock, maxEntries = VERIFIED_CACHE_MAX_ENTRIES) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1)
      throw new TypeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    this.#clock = clock;
    this.#maxEntries = maxEntries;
  }

  static keyOf(token: string): string {
    return createHash('sha256').update(token).digest('base64');
  }

  /** The claims verified for the token with this key, while it has not expired. */
  get(key: string): PorteroClaims | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAt <= this.#clock.now()) return undefined;
    // Re-inserted: a Map iterates in insertion order, so its first key is the least recently used.
    this.#entries.set(key, entry);
    return entry.claims;
  }

  /** Remembers `claims`, just verified, until their `exp`. Returns them, frozen. */
  set(key: string, claims: PorteroClaims): PorteroClaims {
    const expiresAt = claims.exp * 1000;
    const kept = frozen(claims);
    if (expiresAt <= this.#clock.now()) return kept;
    this.#entries.delete(key);
    this.#entries.set(key, { claims: kept, expiresAt });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    return kept;
  }

  get size(): number {
    return this.#entries.size;
  }
}
