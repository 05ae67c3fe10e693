import type { Clock } from '../clock.js';
import type { SessionClaims } from '../shared/claims.js';
import { storeKeys } from '../store/keys.js';
import type { KeyValueStore } from '../store/types.js';

/** The version of a stored session; a record of another is read as no session (the user signs in again). */
export const SESSION_VERSION = 1;

/** A signed-in session, as `session:<sid>` holds it. Times in ms since the epoch. */
export interface SessionRecord {
  readonly v: typeof SESSION_VERSION;
  readonly sid: string;
  readonly sub: string;
  readonly provider: string;
  readonly created: number;
  /** When a token was last issued for it: the idle limit counts from here. */
  readonly lastSeen: number;
  /** SESSION_TTL after `created`: no token of the session outlives it. */
  readonly expiresAt: number;
  /** What each token of the session says: the claims made at sign-in. */
  readonly claims: SessionClaims;
  /** The provider's user id and, when its ID token had one, its session id (back-channel logout names them). */
  readonly upstream: { readonly sub: string; readonly sid?: string };
}

/** What the provider granted, as `session-grant:<sid>` holds it; written only under the session's lock. */
export interface SessionGrant {
  readonly v: typeof SESSION_VERSION;
  /** Sealed by `SecretSealer`, never in the clear. */
  readonly refreshToken?: string;
  /** The latest ID token, for `id_token_hint` at the provider's end_session_endpoint. */
  readonly idToken?: string;
  /** When the provider last confirmed the session (sign-in or refresh), in ms. */
  readonly refreshedAt: number;
}

function parse<T extends { v: number }>(text: string | undefined, valid: (value: T) => boolean): T | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as T;
    return value?.v === SESSION_VERSION && valid(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

const isRecord = (value: SessionRecord) =>
  typeof value.sid === 'string' &&
  typeof value.sub === 'string' &&
  Number.isSafeInteger(value.expiresAt) &&
  typeof value.claims === 'object';

const memberOf = (record: Pick<SessionRecord, 'created' | 'sid'>) => `${record.created}.${record.sid}`;
const sidOfMember = (member: string) => member.slice(member.indexOf('.') + 1);

/**
 * Sessions in the store: a record per session, what the provider granted beside it, and two
 * indexes (a user's sessions; those of one provider session). Each operation one key, so all work
 * on a Cluster. A record lives until its idle limit (SESSION_IDLE_TTL after `lastSeen`) or its
 * absolute one (`expiresAt`), whichever comes first: Redis forgets it then, and with it the
 * session. The indexes may name sessions gone that way; readers check the record.
 */
export class SessionStore {
  readonly #store: KeyValueStore;
  readonly #clock: Clock;
  readonly #idleTtl: number;

  constructor(store: KeyValueStore, clock: Clock, idleTtl: number) {
    this.#store = store;
    this.#clock = clock;
    this.#idleTtl = idleTtl;
  }

  /** Seconds the record may live from now: until idle, never past its absolute expiry. */
  #ttlOf(record: SessionRecord): number {
    const untilIdle = record.lastSeen + this.#idleTtl * 1000;
    return Math.ceil((Math.min(untilIdle, record.expiresAt) - this.#clock.now()) / 1000);
  }

  #remaining(record: SessionRecord): number {
    return Math.ceil((record.expiresAt - this.#clock.now()) / 1000);
  }

  async create(record: SessionRecord, grant: SessionGrant): Promise<void> {
    const ttl = this.#remaining(record);
    await this.#store.set(storeKeys.sessionGrant(record.sid), JSON.stringify(grant), ttl);
    await this.#store.set(storeKeys.session(record.sid), JSON.stringify(record), this.#ttlOf(record));
    await this.#store.addMember(storeKeys.userSessions(record.sub), memberOf(record), ttl);
    if (record.upstream.sid) {
      await this.#store.addMember(storeKeys.upstreamSessions(record.provider, record.upstream.sid), record.sid, ttl);
    }
  }

  /** The living session `sid`, or undefined: ended, idle, expired, or of a version this one cannot read. */
  async get(sid: string): Promise<SessionRecord | undefined> {
    const record = parse<SessionRecord>(await this.#store.get(storeKeys.session(sid)), isRecord);
    return record && record.expiresAt > this.#clock.now() ? record : undefined;
  }

  /**
   * Records a token issued now: the idle limit starts again. Undefined when the session ended since
   * it was read (signed out, idle, expired): a renewal never writes back a record another request
   * removed, which would bring the session back once its revocation expired.
   */
  async touch(record: SessionRecord): Promise<SessionRecord | undefined> {
    const touched = { ...record, lastSeen: this.#clock.now() };
    const ttl = this.#ttlOf(touched);
    return ttl > 0 && (await this.#store.setIfPresent(storeKeys.session(record.sid), JSON.stringify(touched), ttl)) ? touched : undefined;
  }

  async grant(sid: string): Promise<SessionGrant | undefined> {
    return parse<SessionGrant>(await this.#store.get(storeKeys.sessionGrant(sid)), (value) => Number.isSafeInteger(value.refreshedAt));
  }

  /**
   * Replaces the grant; only the holder of the session's lock (`lock`) does (sign-in writes the first
   * in `create`). False when the session ended meanwhile: its grant is not written back.
   */
  async writeGrant(record: SessionRecord, grant: SessionGrant): Promise<boolean> {
    const ttl = this.#remaining(record);
    return ttl > 0 && (await this.#store.setIfPresent(storeKeys.sessionGrant(record.sid), JSON.stringify(grant), ttl));
  }

  /** Forgets the session and its grant, and takes it out of its indexes. */
  async remove(record: Pick<SessionRecord, 'sid' | 'sub' | 'created' | 'provider' | 'upstream'>): Promise<void> {
    await this.#store.delete(storeKeys.session(record.sid));
    await this.#store.delete(storeKeys.sessionGrant(record.sid));
    await this.#store.removeMember(storeKeys.userSessions(record.sub), memberOf(record));
    if (record.upstream.sid) await this.#store.removeMember(storeKeys.upstreamSessions(record.provider, record.upstream.sid), record.sid);
  }

  /** The user's living sessions, oldest first. Index entries of sessions gone idle are dropped on the way. */
  async sessionsOf(sub: string): Promise<SessionRecord[]> {
    // Oldest first, by when begun, then by id: every instance puts them in the same order.
    const createdOf = (member: string) => Number(member.slice(0, member.indexOf('.')));
    const members = (await this.#store.members(storeKeys.userSessions(sub))).sort(
      (a, b) => createdOf(a) - createdOf(b) || (a < b ? -1 : a > b ? 1 : 0),
    );
    const living: SessionRecord[] = [];
    for (const member of members) {
      const record = await this.get(sidOfMember(member));
      if (record) living.push(record);
      else await this.#store.removeMember(storeKeys.userSessions(sub), member);
    }
    return living;
  }

  /** portero's living sessions begun in the provider's session `upstreamSid`. */
  async sessionsOfUpstream(provider: string, upstreamSid: string): Promise<SessionRecord[]> {
    const sids = await this.#store.members(storeKeys.upstreamSessions(provider, upstreamSid));
    const records = await Promise.all(sids.map((sid) => this.get(sid)));
    return records.filter((record): record is SessionRecord => record !== undefined);
  }

  /** The session's refresh lock for `owner`, for `ttlSeconds`: true when obtained. */
  lock(sid: string, owner: string, ttlSeconds: number): Promise<boolean> {
    return this.#store.setIfAbsent(storeKeys.sessionLock(sid), owner, ttlSeconds);
  }

  extendLock(sid: string, owner: string, ttlSeconds: number): Promise<boolean> {
    return this.#store.expireIfValue(storeKeys.sessionLock(sid), owner, ttlSeconds);
  }

  unlock(sid: string, owner: string): Promise<boolean> {
    return this.#store.deleteIfValue(storeKeys.sessionLock(sid), owner);
  }
}
