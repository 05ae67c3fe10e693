import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FLOW_INVALID, isPorteroError } from '../../src/errors.js';
import { FLOW_RECORD_VERSION, type FlowBinding, FlowStore, type NewFlow } from '../../src/flow/flow-store.js';
import { seal, storeSecrets } from '../../src/flow/sealed.js';
import { storeKeys } from '../../src/store/keys.js';
import { v1Fields, v1Flow } from '../support/flow-record-v1.js';
import { testRedis } from '../support/redis-server.js';
import { type KeyValueUnderTest, memoryUnderTest, redisUnderTest } from '../support/store-under-test.js';

const redis = await testRedis();
afterAll(() => redis.stop());

const BINDING: FlowBinding = { provider: 'corp', issuer: 'https://idp.example.test' };
const RETURN_TO = 'https://app.example.com/dashboard';
const newFlow = (nonce = true): NewFlow => FlowStore.create({ ...BINDING, returnTo: RETURN_TO, nonce });
const keyOf = (flowId: string) => storeKeys.flow(storeSecrets(flowId).storeId);

/** The reason a consume was refused with: it must be flow_invalid. */
async function refusedReason(promise: Promise<unknown>): Promise<unknown> {
  const error = await promise.then(
    (record) => expect.fail(`consumed ${JSON.stringify(record)}`),
    (err: unknown) => err,
  );
  expect(isPorteroError(error, FLOW_INVALID), String(error)).toBe(true);
  return (error as { detail: { reason?: unknown } }).detail.reason;
}

/** What `FlowStore` promises on any key-value store. */
function flowStoreContract(name: string, factory: () => KeyValueUnderTest | Promise<KeyValueUnderTest>) {
  describe(`FlowStore contract: ${name}`, () => {
    let under: KeyValueUnderTest;
    let flows: FlowStore;
    beforeEach(async () => {
      under = await factory();
      flows = new FlowStore(under.store);
    });
    afterEach(() => under.close());

    it('gives back the record it saved, once, for the provider and issuer it was started with', async () => {
      const flow = newFlow();
      await flows.save(flow, 300);
      expect(await flows.consume(flow.flowId, BINDING)).toEqual(flow.record);
      expect(await refusedReason(flows.consume(flow.flowId, BINDING))).toBe('flow not found (expired or replayed)');
    });

    it('keeps a record without nonce (plain OAuth 2.0) as it is', async () => {
      const flow = newFlow(false);
      expect(flow.record.nonce).toBeUndefined();
      await flows.save(flow, 300);
      const consumed = await flows.consume(flow.flowId, BINDING);
      expect(consumed).toEqual(flow.record);
      expect(consumed.nonce).toBeUndefined();
    });

    it('hands the record to exactly one of 10 concurrent callbacks', async () => {
      const flow = newFlow();
      await flows.save(flow, 300);
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => flows.consume(flow.flowId, BINDING)));
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    });

    it('refuses a flow id it never saved, and one whose record expired', async () => {
      expect(await refusedReason(flows.consume(newFlow().flowId, BINDING))).toBe('flow not found (expired or replayed)');
      const flow = newFlow();
      await flows.save(flow, 300);
      await under.expire(keyOf(flow.flowId));
      expect(await refusedReason(flows.consume(flow.flowId, BINDING))).toBe('flow not found (expired or replayed)');
    });

    it('stores ciphertext under a key derived from the flow id: neither the id nor anything of the record shows', async () => {
      const flow = newFlow();
      await flows.save(flow, 300);
      const stored = await under.store.get(keyOf(flow.flowId));
      expect(stored).toBeDefined();
      const { state, nonce, codeVerifier, returnTo } = flow.record;
      for (const secret of [flow.flowId, state, nonce!, codeVerifier, returnTo, 'app.example.com', BINDING.issuer, 'idp.example']) {
        expect(stored).not.toContain(secret);
        expect(keyOf(flow.flowId)).not.toContain(secret);
      }
    });

    it('derives a state, a nonce and a verifier of 43 characters each, all different, and new for every login', async () => {
      const [one, two] = [newFlow().record, newFlow().record];
      const values = [one.state, one.nonce, one.codeVerifier, two.state, two.nonce, two.codeVerifier];
      for (const value of values) expect(value).toMatch(/^[\w-]{43}$/);
      expect(new Set(values).size).toBe(6);
    });

    it('refuses the record for another provider, or another issuer, than the login was started with', async () => {
      for (const binding of [
        { ...BINDING, provider: 'other' },
        { ...BINDING, issuer: 'https://idp2.example.test' },
      ]) {
        const flow = newFlow();
        await flows.save(flow, 300);
        expect(await refusedReason(flows.consume(flow.flowId, binding))).toBe('flow record does not open for this provider and issuer');
        // Consumed all the same: a callback that was refused cannot be tried again with other parameters.
        expect(await refusedReason(flows.consume(flow.flowId, BINDING))).toBe('flow not found (expired or replayed)');
      }
    });

    it('refuses a record sealed for another flow id (planted, or moved to another key)', async () => {
      const [flow, other] = [newFlow(), newFlow()];
      await flows.save(other, 300);
      await under.store.set(keyOf(flow.flowId), (await under.store.get(keyOf(other.flowId)))!, 300);
      expect(await refusedReason(flows.consume(flow.flowId, BINDING))).toBe('flow record does not open for this provider and issuer');
    });

    it('refuses, as a login to start again, a record or a flow id of another version', async () => {
      const flow = newFlow();
      await flows.save(flow, 300);
      const stored = Buffer.from((await under.store.get(keyOf(flow.flowId)))!, 'base64url');
      stored[0] = FLOW_RECORD_VERSION + 1;
      await under.store.set(keyOf(flow.flowId), stored.toString('base64url'), 300);
      expect(await refusedReason(flows.consume(flow.flowId, BINDING))).toBe('flow record of another version');
      expect(await refusedReason(flows.consume(randomBytes(16).toString('base64url'), BINDING))).toBe('flow id of another version');
    });

    it('refuses a record that opens but holds no return address, or flags it does not know', async () => {
      const associated = Buffer.from(`${FLOW_RECORD_VERSION}\0${BINDING.provider}\0${BINDING.issuer}`);
      for (const plaintext of [Buffer.of(1), Buffer.concat([Buffer.of(2), Buffer.from(RETURN_TO)])]) {
        const { flowId } = newFlow();
        const sealed = seal(storeSecrets(flowId), associated, plaintext);
        await under.store.set(keyOf(flowId), Buffer.concat([Buffer.of(FLOW_RECORD_VERSION), sealed]).toString('base64url'), 300);
        expect(await refusedReason(flows.consume(flowId, BINDING))).toBe('flow record malformed');
      }
    });

    describe('a record of version 1, as the version before wrote it (a rolling deploy)', () => {
      const RECORD = {
        ...BINDING,
        state: 'state-0123456789-state-0123456789-abcdefghij',
        nonce: 'nonce-0123456789-nonce-0123456789-abcdefghij',
        codeVerifier: 'verifier-0123456789-verifier-0123456789-abcd',
        returnTo: RETURN_TO,
      };

      it('is given back, once, with its own state, nonce and verifier', async () => {
        const old = v1Flow(v1Fields(RECORD));
        await under.store.set(old.key, old.value, 300);
        expect(await flows.consume(old.flowId, BINDING)).toEqual(RECORD);
        expect(await refusedReason(flows.consume(old.flowId, BINDING))).toBe('flow not found (expired or replayed)');
        const { nonce: _nonce, ...withoutNonce } = RECORD;
        const plain = v1Flow(v1Fields(withoutNonce));
        await under.store.set(plain.key, plain.value, 300);
        expect(await flows.consume(plain.flowId, BINDING)).toEqual(withoutNonce);
      });

      it('is refused when sealed for another flow id, of an unknown version, or incomplete', async () => {
        const cases: [string, (flowId: string) => string][] = [
          ['flow record does not open', () => v1Flow(v1Fields(RECORD)).value],
          ['flow record of another version', (flowId) => v1Flow({ ...v1Fields(RECORD), v: 3 }, flowId).value],
          ['flow record malformed', (flowId) => v1Flow({ ...v1Fields(RECORD), codeVerifier: 42 }, flowId).value],
        ];
        for (const [reason, value] of cases) {
          const { flowId, key } = v1Flow(v1Fields(RECORD));
          await under.store.set(key, value(flowId), 300);
          expect(await refusedReason(flows.consume(flowId, BINDING)), reason).toBe(reason);
        }
      });
    });
  });
}

flowStoreContract('memory', memoryUnderTest);
flowStoreContract('redis', () => redisUnderTest(redis.url));

describe('FlowStore on Redis', () => {
  it('stores the record with the TTL it was given', async () => {
    const under = await redisUnderTest(redis.url);
    try {
      const flow = newFlow();
      await new FlowStore(under.store).save(flow, 300);
      const ttl = await under.redis.raw.ttl(`${under.redis.prefix}${keyOf(flow.flowId)}`);
      expect(ttl).toBeGreaterThan(295);
      expect(ttl).toBeLessThanOrEqual(300);
    } finally {
      await under.close();
    }
  });
});
