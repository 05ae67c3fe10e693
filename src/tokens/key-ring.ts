import type { KeySet } from './keys.js';

/** The kids a key set publishes, the signing one first. */
export const kidsOf = (keys: KeySet): string[] => (keys.publicJwks.keys ?? []).map((jwk) => String(jwk.kid));

/**
 * The key set in use, swapped whole when JWT_KEYS is reloaded. Everything that signs, verifies or
 * publishes reads `current` at the moment it needs the keys, so one request never mixes two sets,
 * and the next one sees the new set at once: the JWKS, the signing key, the verifier.
 */
export class KeyRing {
  #current: KeySet;

  constructor(keys: KeySet) {
    this.#current = keys;
  }

  get current(): KeySet {
    return this.#current;
  }

  /** Puts `next` in use from now on. Returns the set it replaced. */
  replace(next: KeySet): KeySet {
    const previous = this.#current;
    this.#current = next;
    return previous;
  }
}
