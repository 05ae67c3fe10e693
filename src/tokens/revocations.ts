import type { Clock } from '../clock.js';
import { storeKeys } from '../store/keys.js';
import type { KeyValueStore } from '../store/types.js';

/** The version of a stored revocation; see `isRevoked` for what an instance does with another one. */
export const REVOCATION_VERSION = 1;

/**
 * Sessions signed out before their token expires, on the key-value store: `/logout` writes one,
 * `/auth` and `/userinfo` read it. Each lives as long as the token it denies would have, plus the
 * allowed clock skew: an instance whose clock runs behind still takes that token as unexpired for
 * up to CLOCK_SKEW seconds past its `exp`, and must not find the revocation gone by then.
 */
export class Revocations {
  readonly #store: KeyValueStore;
  readonly #clock: Clock;
  readonly #clockSkew: number;

  /** `clockSkew`: CLOCK_SKEW, the seconds by which instances' clocks may disagree. */
  constructor(store: KeyValueStore, clock: Clock, clockSkew: number) {
    this.#store = store;
    this.#clock = clock;
    this.#clockSkew = clockSkew;
  }

  /**
   * Denies session `sid` until `expiresAt` (seconds since the epoch, the token's `exp`) plus the
   * clock skew; nothing to do once that has passed.
   */
  async revoke(sid: string, expiresAt: number): Promise<void> {
    const now = Math.floor(this.#clock.now() / 1000);
    const remaining = expiresAt + this.#clockSkew - now;
    if (remaining <= 0) return;
    await this.#store.set(storeKeys.revokedSession(sid), JSON.stringify({ v: REVOCATION_VERSION, at: now }), remaining);
  }

  /**
   * Whether session `sid` was signed out. Any value under its key counts, one of a version this
   * instance cannot read included: a revocation is never dropped for being misread.
   */
  async isRevoked(sid: string): Promise<boolean> {
    return (await this.#store.get(storeKeys.revokedSession(sid))) !== undefined;
  }
}
