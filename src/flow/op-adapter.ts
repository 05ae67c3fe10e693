import { createHash } from 'node:crypto';
// Types only: a gateway without apps never loads oidc-provider (test/flow/op-adapter.test.ts checks the emitted code).
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import { type Clock, systemClock } from '../clock.js';
import { storeKeys } from '../store/keys.js';
import type { KeyValueStore } from '../store/types.js';

/**
 * Thrown by `consume` when the record is already consumed (another exchange of the same code won)
 * or gone: oidc-provider's `errors.InvalidGrant`, passed in so that this module never loads it.
 * The token endpoint answers it `invalid_grant`, before any token is made.
 */
export type ConsumedError = new (description: string) => Error;

/** The models whose records carry a `grantId` that `revokeByGrantId` finds them by (as oidc-provider's memory adapter lists them). */
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

/**
 * The TTL of a record oidc-provider gives none: a record of a model without a `ttl` (a dynamically
 * registered Client, its RegistrationAccessToken), which never expires in oidc-provider's terms.
 * Every key portero writes expires (so nothing forgotten grows Redis for ever, and a `volatile-*`
 * policy reaches every key, see src/store/eviction.ts): 14 days, oidc-provider's longest default
 * lifetime (Session, Grant, RefreshToken). Dynamic registration is off; turning it on means
 * registered clients would need a longer one.
 */
export const FALLBACK_TTL_SECONDS = 14 * 24 * 3600;

/** The SHA-256 of an id, base64url, as keys hold it: the id of a code or token is its value. */
const digest = (id: string): string => createHash('sha256').update(id).digest('base64url');

/**
 * The store's TTL for oidc-provider's `expiresIn`: none (or not a number) takes the fallback; zero
 * or less is a record already expired (oidc-provider sets its `exp` to now plus `expiresIn`, and a
 * `persist` at the second its record ends passes 0), which it would refuse to read, so it is kept
 * one second (Redis takes no TTL below one) rather than 14 days.
 */
function storeTtl(expiresIn: number | undefined): number {
  if (expiresIn === undefined || !Number.isFinite(expiresIn)) return FALLBACK_TTL_SECONDS;
  return Math.max(1, Math.ceil(expiresIn));
}

/** A record as stored, or undefined when it is not a JSON object (an operator's edit, a truncated write): read as not found. */
function parsed(text: string | undefined): AdapterPayload | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as AdapterPayload) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * oidc-provider's Adapter (`upsert`, `find`, `findByUid`, `findByUserCode`, `consume`, `destroy`,
 * `revokeByGrantId`; reference: its `lib/adapters/memory_adapter.js`) on portero's key-value
 * store, so that any instance serves any step, on every Redis topology: each operation touches
 * one key at a time (keys in `storeKeys`: `opRecord`, `opConsumed`, `opSessionByUid`,
 * `opDeviceCodeByUserCode`, `opGrant`), never two in one command, which a Cluster would refuse.
 *
 * A Redis dump holds no usable code or token. The id of an AccessToken, AuthorizationCode,
 * RefreshToken, ClientCredentials, DeviceCode, BackchannelAuthenticationRequest,
 * RegistrationAccessToken or InitialAccessToken is the value a client presents, so every record
 * is keyed by the SHA-256 of its id, and its payload is stored without the `jti` that repeats it
 * (oidc-provider puts `jti` in every payload, `lib/models/base_model.js`); `find` puts it back.
 *
 * What else the payloads of oidc-provider 8.8.1 hold (`IN_PAYLOAD` of each file in lib/models):
 * - Session: `accountId`, `loginTs`, `acr`/`amr`, `authorizations` (per client its `sid`, which
 *   ID tokens carry, and `grantId`), and during a logout prompt `state.secret`, the form's CSRF
 *   value. Its id and an Interaction's uid are cookie values, usable only with the cookie's
 *   signature (oidc-provider signs its cookies once `cookies.keys` is set, which the provider
 *   must): so `opSessionByUid` holds a Session's id, and `findByUid` gives a Session that can be
 *   saved or destroyed; an Interaction's payload has the Session's id (`session.cookie`) and its
 *   own uid (in `returnTo`).
 * - Interaction: the authorization request's `params` (client_id, redirect_uri, scope, state,
 *   nonce, code_challenge, any id_token_hint), `prompt`, and the `result`/`lastSubmission` the
 *   provider hands `interactionFinished`: which must hold nothing secret either.
 * - Grant: `accountId`, `clientId`, the scopes and claims granted. Its id is no credential.
 * - Codes and tokens: `accountId`, `clientId`, `grantId`, `sessionUid`, `sid`, `scope`, `claims`,
 *   `nonce`, `redirectUri`, PKCE's `codeChallenge` (never the verifier), `extra` (the provider's
 *   `extraTokenClaims`). PushedAuthorizationRequest: the request object. ReplayDetection: a hash.
 * - Not dump-safe, and off: the device flow (`opDeviceCodeByUserCode`, and its Interaction's
 *   `deviceCode`, hold a DeviceCode's id, which `findByUserCode` must give back) and dynamic
 *   registration (a Client's payload is its metadata, `client_secret` included).
 */
class StoreAdapter implements Adapter {
  readonly #model: string;
  readonly #store: KeyValueStore;
  readonly #consumedError: ConsumedError;
  readonly #clock: Clock;
  /** A Client's payload is its metadata, without `jti`; every other model's repeats its id there. */
  readonly #idInPayload: boolean;

  constructor(model: string, store: KeyValueStore, consumedError: ConsumedError, clock: Clock) {
    this.#model = model;
    this.#store = store;
    this.#consumedError = consumedError;
    this.#clock = clock;
    this.#idInPayload = model !== 'Client';
  }

  #recordKey(idDigest: string): string {
    return storeKeys.opRecord(this.#model, idDigest);
  }

  #consumedKey(idDigest: string): string {
    return storeKeys.opConsumed(this.#model, idDigest);
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
    const model = this.#model;
    const idDigest = digest(id);
    const ttl = storeTtl(expiresIn);
    // The grant's index before the record: a crash between the two never leaves a token revocation cannot find.
    if (GRANTABLE.has(model) && payload.grantId) {
      await this.#store.addMember(storeKeys.opGrant(digest(payload.grantId)), `${model}:${idDigest}`, ttl);
    }
    const { jti: _, ...withoutId } = payload;
    await this.#store.set(this.#recordKey(idDigest), JSON.stringify(this.#idInPayload ? withoutId : payload), ttl);
    if (model === 'Session' && payload.uid) await this.#store.set(storeKeys.opSessionByUid(digest(payload.uid)), id, ttl);
    if (model === 'DeviceCode' && payload.userCode) {
      await this.#store.set(storeKeys.opDeviceCodeByUserCode(digest(payload.userCode)), id, ttl);
    }
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const idDigest = digest(id);
    const payload = parsed(await this.#store.get(this.#recordKey(idDigest)));
    if (payload === undefined) return undefined;
    const consumed = await this.#store.get(this.#consumedKey(idDigest));
    return {
      ...payload,
      ...(this.#idInPayload ? { jti: id } : {}),
      // What oidc-provider checks before `consume`: a replay then takes its own path (it revokes the grant).
      ...(consumed === undefined ? {} : { consumed: Number(consumed) || true }),
    };
  }

  async #findBy(indexKey: string): Promise<AdapterPayload | undefined> {
    const id = await this.#store.get(indexKey);
    return id === undefined ? undefined : this.find(id);
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findBy(storeKeys.opSessionByUid(digest(uid)));
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findBy(storeKeys.opDeviceCodeByUserCode(digest(userCode)));
  }

  /**
   * oidc-provider finds a code, checks `consumed`, then consumes it: two exchanges at once both
   * pass the check, so the marker is set only where none is (one key, atomic on every store),
   * and the one that finds it taken is refused before any token is made.
   */
  async consume(id: string): Promise<void> {
    const idDigest = digest(id);
    const payload = parsed(await this.#store.get(this.#recordKey(idDigest)));
    if (payload === undefined) throw new this.#consumedError('already used, expired or revoked');
    const now = Math.floor(this.#clock.now() / 1000);
    // The marker lasts as long as the record (a replay after that is a code not found).
    const ttl = typeof payload.exp === 'number' ? storeTtl(payload.exp - now) : FALLBACK_TTL_SECONDS;
    if (!(await this.#store.setIfAbsent(this.#consumedKey(idDigest), String(now), ttl))) throw new this.#consumedError('already consumed');
  }

  /** The record only: a consumed marker left behind expires with the record it was for, and marks nothing else. */
  async destroy(id: string): Promise<void> {
    await this.#store.delete(this.#recordKey(digest(id)));
  }

  /**
   * Every code and token issued under the grant, whichever model's adapter is asked (oidc-provider
   * asks each in turn, as its memory adapter does). Each member is removed on its own, never the
   * whole set: one added meanwhile (a token issued while another instance revokes) stays listed.
   */
  async revokeByGrantId(grantId: string): Promise<void> {
    const index = storeKeys.opGrant(digest(grantId));
    const members = await this.#store.members(index);
    await Promise.all(
      members.map(async (member) => {
        const [memberModel = '', idDigest = ''] = member.split(':');
        if (GRANTABLE.has(memberModel) && idDigest) await this.#store.delete(storeKeys.opRecord(memberModel, idDigest));
        await this.#store.removeMember(index, member);
      }),
    );
  }
}

/** oidc-provider's `adapter` option: a factory it calls with each model's name, which gets a StoreAdapter of its own. */
export function storeAdapter(store: KeyValueStore, consumedError: ConsumedError, clock: Clock = systemClock): AdapterFactory {
  return (model: string): Adapter => new StoreAdapter(model, store, consumedError, clock);
}
