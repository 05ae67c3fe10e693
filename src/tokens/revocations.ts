import type { Clock } from '../clock.js';
import { isPorteroError, STORE_UNAVAILABLE } from '../errors.js';
import type { Logger } from '../logger.js';
import { storeKeys } from '../store/keys.js';
import type { KeyValueStore } from '../store/types.js';
import { DenySet } from './deny-set.js';

/** The version of a stored revocation; see `isRevoked` for what an instance does with another one. */
export const REVOCATION_VERSION = 1;

/** How long to wait before trying again to subscribe, or to load the revoked sessions. */
const RETRY_MS = 1000;
/** How long to wait before loading again a set that held a record this version cannot read. */
const UNREADABLE_RETRY_MS = 30_000;

export interface RevocationOptions {
  /**
   * REVOCATION_GRACE: seconds after the feed of sign-outs was lost during which, if the store
   * cannot be read either, the deny-set alone answers instead of a 503. Default 0: never.
   */
  readonly grace?: number;
  readonly logger?: Logger;
}

/** A sign-out as published on the channel and kept in the set: the session and until when (seconds) it is denied. */
interface Revoked {
  readonly v: number;
  readonly sid: string;
  readonly until: number;
}

function readRevoked(text: string): Revoked | undefined {
  try {
    const record = JSON.parse(text) as Partial<Revoked>;
    if (typeof record.sid === 'string' && record.sid !== '' && Number.isSafeInteger(record.until)) return record as Revoked;
  } catch {}
  return undefined;
}

/**
 * Sessions signed out before their token expires. `/logout` writes one; `/auth` and `/userinfo` ask.
 *
 * In the store, each is a key of its own (`revoked:<sid>`, read per request, and by instances of
 * earlier versions), a member of one set of them all (`revoked-sessions`, loaded at start), and a
 * message on a channel (`revocations`) to every instance. Each lives as long as the token it denies
 * would have, plus the allowed clock skew: an instance whose clock runs behind still takes that
 * token as unexpired for up to CLOCK_SKEW seconds past its `exp`, and must not find it gone by then.
 *
 * In memory, once `follow()` was called, a deny-set (`DenySet`): subscribed to the channel, then
 * loaded from the set, so it holds every sign-out: those before the subscription from the set,
 * those after from the channel. While that holds (the feed is live), `/auth` asks nothing of the
 * store. Whenever the subscription is lost (its connection closed or not answering, an unreadable
 * message), messages may be missed: each request reads the store again, until the subscription is
 * back and the set loaded again. A sign-out is in the deny-set of its own instance at once, and of
 * the others as soon as the message arrives (well under a second on one network).
 */
export class Revocations {
  readonly #store: KeyValueStore;
  readonly #clock: Clock;
  readonly #clockSkew: number;
  readonly #graceMs: number;
  readonly #logger: Logger | undefined;
  readonly #denied: DenySet;
  /** The deny-set holds every sign-out: subscribed, and the set loaded since. */
  #live = false;
  /** Subscribed, the subscription not lost since (the set may still be loading). */
  #subscribed = false;
  #following = false;
  /** When the feed was last lost (ms), while it is: the start of REVOCATION_GRACE. */
  #lostAt: number | undefined;
  /** Counts losses, so that a load begun before one does not make the feed live after it. */
  #losses = 0;
  #retry: NodeJS.Timeout | undefined;

  /** `clockSkew`: CLOCK_SKEW, the seconds by which instances' clocks may disagree. */
  constructor(store: KeyValueStore, clock: Clock, clockSkew: number, options: RevocationOptions = {}) {
    this.#store = store;
    this.#clock = clock;
    this.#clockSkew = clockSkew;
    this.#graceMs = (options.grace ?? 0) * 1000;
    this.#logger = options.logger;
    this.#denied = new DenySet(clock);
  }

  /**
   * Denies session `sid` until `expiresAt` (seconds since the epoch, the token's `exp`) plus the
   * clock skew; nothing to do once that has passed. This instance denies it at once, even when the
   * store then fails (a 503: the user signs out again, and the other instances learn of it then).
   */
  async revoke(sid: string, expiresAt: number): Promise<void> {
    const now = Math.floor(this.#clock.now() / 1000);
    const remaining = expiresAt + this.#clockSkew - now;
    if (remaining <= 0) return;
    const until = now + remaining;
    this.#denied.add(sid, until * 1000);
    await this.#write(sid, until);
  }

  /** Stores and publishes the sign-out of `sid` until `until` (seconds since the epoch). */
  async #write(sid: string, until: number): Promise<void> {
    const now = Math.floor(this.#clock.now() / 1000);
    const remaining = until - now;
    if (remaining <= 0) return;
    await this.#store.set(storeKeys.revokedSession(sid), JSON.stringify({ v: REVOCATION_VERSION, at: now }), remaining);
    const revoked = JSON.stringify({ v: REVOCATION_VERSION, sid, until } satisfies Revoked);
    // Both tried, whichever fails: the message reaches the live instances even if the set (for
    // those that load it later) could not be written, and the other way round.
    const [added, published] = await Promise.allSettled([
      this.#store.addMember(storeKeys.revokedSessions, revoked, remaining),
      this.#store.publish(storeKeys.revocationChannel, revoked),
    ]);
    for (const outcome of [added, published]) if (outcome.status === 'rejected') throw outcome.reason;
  }

  /**
   * Whether session `sid` was signed out: from the deny-set while the feed is live, else from the
   * store. Any value under its key counts, one of a version this instance cannot read included: a
   * revocation is never dropped for being misread. With the store unreachable, `store_unavailable`,
   * unless the feed was lost less than REVOCATION_GRACE ago: then the deny-set alone answers.
   */
  async isRevoked(sid: string): Promise<boolean> {
    if (this.#denied.has(sid)) return true;
    if (this.#live) return false;
    try {
      return (await this.#store.get(storeKeys.revokedSession(sid))) !== undefined;
    } catch (err) {
      if (isPorteroError(err, STORE_UNAVAILABLE) && this.#withinGrace()) return false;
      throw err;
    }
  }

  /** Whether the deny-set holds every sign-out, so that `/auth` asks nothing of the store. */
  get live(): boolean {
    return this.#live;
  }

  #withinGrace(): boolean {
    return this.#graceMs > 0 && this.#lostAt !== undefined && this.#clock.now() - this.#lostAt <= this.#graceMs;
  }

  /**
   * Subscribes to the sign-outs of every instance and keeps the deny-set complete from then on,
   * resubscribing and reloading after every loss, until the store is closed. Returns at once.
   */
  follow(): void {
    if (this.#following) return;
    this.#following = true;
    void this.#subscribe();
  }

  async #subscribe(): Promise<void> {
    try {
      await this.#store.subscribe(
        storeKeys.revocationChannel,
        (message) => this.#onMessage(message),
        (live) => (live ? this.#onSubscribed() : this.#lose('the subscription was lost')),
      );
    } catch (err) {
      // Unreachable: try again. Closed (or any other refusal): stop following; requests read the store.
      if (isPorteroError(err, STORE_UNAVAILABLE)) this.#later(() => this.#subscribe());
      return;
    }
    this.#onSubscribed();
  }

  #onSubscribed(): void {
    this.#subscribed = true;
    void this.#load();
  }

  /** Loads the set of every sign-out; the feed is live once it is loaded with nothing lost meanwhile. */
  async #load(): Promise<void> {
    const losses = this.#losses;
    let members: string[];
    try {
      members = await this.#store.members(storeKeys.revokedSessions);
    } catch {
      if (losses === this.#losses && this.#subscribed) this.#later(() => this.#load());
      return;
    }
    const records = members.map(readRevoked);
    for (const record of records) if (record) this.#denied.add(record.sid, record.until * 1000);
    if (losses !== this.#losses || !this.#subscribed) return;
    this.#restore(new Set(records.map((record) => record?.sid)));
    // One it cannot read (a later version's) may deny a session it cannot name: the store decides
    // each request until that one has expired.
    if (records.includes(undefined)) {
      this.#logger?.warn(
        { event: 'revocations_unreadable' },
        'revocations: a revoked session in the store is unreadable; /auth reads the store per request',
      );
      this.#later(() => this.#load(), UNREADABLE_RETRY_MS);
      return;
    }
    if (!this.#live) this.#logger?.info({ event: 'revocations_live', revoked: this.#denied.size }, 'revocations: following sign-outs');
    this.#live = true;
    this.#lostAt = undefined;
  }

  /**
   * Writes back the sign-outs this instance denies that the store no longer holds (a Redis that
   * restarted empty, a failover to a replica that had not received them): else an instance started
   * since, or restarted, would take those tokens until they expire. Best effort: tried again at the
   * next load.
   */
  #restore(stored: ReadonlySet<string | undefined>): void {
    for (const [sid, untilMs] of this.#denied.entries()) {
      if (!stored.has(sid)) this.#write(sid, Math.ceil(untilMs / 1000)).catch(() => {});
    }
  }

  #onMessage(message: string): void {
    const record = readRevoked(message);
    if (record) {
      this.#denied.add(record.sid, record.until * 1000);
      return;
    }
    // A sign-out it cannot read is one it may be missing: read the store until the set is loaded again.
    this.#lose('a sign-out message is unreadable');
    this.#onSubscribed();
  }

  #lose(reason: string): void {
    this.#losses++;
    this.#subscribed = false;
    if (!this.#live) return;
    this.#live = false;
    this.#lostAt = this.#clock.now();
    this.#logger?.warn({ event: 'revocations_lost', reason }, 'revocations: feed lost; /auth reads the store per request');
  }

  #later(attempt: () => Promise<void>, delayMs = RETRY_MS): void {
    if (this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void attempt();
    }, delayMs).unref();
  }
}
