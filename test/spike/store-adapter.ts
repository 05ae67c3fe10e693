import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import type { KeyValueStore } from '../../src/store/types.js';

/**
 * SPIKE: oidc-provider's Adapter on portero's KeyValueStore, every operation on one key (so it
 * holds on a Redis Cluster). Keys (they would go in `storeKeys`):
 * - `op:<Model>:<id>`: the payload, JSON, with oidc-provider's TTL;
 * - `op-consumed:<Model>:<id>`: set once (`setIfAbsent`) by `consume`, so of two exchanges of one
 *   code at once only one wins (the other is refused as `invalid_grant`);
 * - `op-session-uid:<uid>`: a Session's id by its uid (for `findByUid`);
 * - `op-user-code:<code>`: a DeviceCode's id (for `findByUserCode`; unused while deviceFlow is off);
 * - `op-grant:<grantId>`: a small set of `<Model>:<id>` issued under a grant (for `revokeByGrantId`).
 */
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);
/** oidc-provider passes no TTL for some records (a dynamically registered client); the store needs one. */
const FALLBACK_TTL = 14 * 24 * 3600;

/** Thrown by `consume` when another request consumed the record first; the token endpoint answers invalid_grant. */
export type ConsumedError = new (description: string) => Error;

export function storeAdapter(store: KeyValueStore, InvalidGrant: ConsumedError): AdapterFactory {
  return (model: string): Adapter => {
    const key = (id: string) => `op:${model}:${id}`;
    const consumedKey = (id: string) => `op-consumed:${model}:${id}`;
    const ttlOf = (expiresIn: number | undefined) => (expiresIn && expiresIn > 0 ? Math.ceil(expiresIn) : FALLBACK_TTL);

    async function find(id: string): Promise<AdapterPayload | undefined> {
      const text = await store.get(key(id));
      if (text === undefined) return undefined;
      const payload = JSON.parse(text) as AdapterPayload;
      const consumed = await store.get(consumedKey(id));
      return consumed === undefined ? payload : { ...payload, consumed: Number(consumed) };
    }

    return {
      async upsert(id, payload, expiresIn) {
        const ttl = ttlOf(expiresIn);
        await store.set(key(id), JSON.stringify(payload), ttl);
        if (model === 'Session' && payload.uid) await store.set(`op-session-uid:${payload.uid}`, id, ttl);
        if (payload.userCode) await store.set(`op-user-code:${payload.userCode}`, id, ttl);
        if (GRANTABLE.has(model) && payload.grantId) await store.addMember(`op-grant:${payload.grantId}`, `${model}:${id}`, ttl);
      },
      find,
      async findByUid(uid) {
        const id = await store.get(`op-session-uid:${uid}`);
        return id === undefined ? undefined : find(id);
      },
      async findByUserCode(userCode) {
        const id = await store.get(`op-user-code:${userCode}`);
        return id === undefined ? undefined : find(id);
      },
      async consume(id) {
        const payload = await store.get(key(id));
        if (payload === undefined) throw new InvalidGrant('already used or expired');
        // The marker lives as long as any record could: a replay after it is a "not found".
        const won = await store.setIfAbsent(consumedKey(id), String(Math.floor(Date.now() / 1000)), FALLBACK_TTL);
        if (!won) throw new InvalidGrant('already consumed');
      },
      async destroy(id) {
        await store.delete(key(id));
      },
      async revokeByGrantId(grantId) {
        for (const member of await store.members(`op-grant:${grantId}`)) await store.delete(`op:${member}`);
        await store.delete(`op-grant:${grantId}`);
      },
    };
  };
}
