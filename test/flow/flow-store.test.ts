import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FLOW_INVALID, isPorteroError } from '../../src/errors.js';
import { FLOW_RECORD_VERSION, type FlowRecord, FlowStore } from '../../src/flow/flow-store.js';
import { flowStoreId, seal } from '../../src/flow/sealed.js';
import { storeKeys } from '../../src/store/keys.js';
import { testRedis } from '../support/redis-server.js';
import { type KeyValueUnderTest, memoryUnderTest, redisUnderTest } from '../support/store-under-test.js';

const redis = await testRedis();
afterAll(() => redis.stop());

const newFlowId = () => randomBytes(32).toString('base64url');

const RECORD: FlowRecord = {
  provider: 'corp',
  issuer: 'https://idp.example.test',
  state: 'state-0123456789-state-0123456789-abcdefghij',
  nonce: 'nonce-0123456789-nonce-0123456789-abcdefghij',
  codeVerifier: 'verifier-0123456789-verifier-0123456789-abcd',
  returnTo: 'https://app.example.com/dashboard',
  createdAt: 1_700_000_000_000,
};

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

    const keyOf = (flowId: string) => storeKeys.flow(flowStoreId(flowId));

    it('gives back the record it saved, once', async () => {
      const flowId = newFlowId();
      await flows.save(flowId, RECORD, 300);
      expect(await flows.consume(flowId)).toMatchObject(RECORD);
      expect(await refusedReason(flows.consume(flowId))).toBe('flow not found (expired or replayed)');
    });

    it('keeps a record without nonce (plain OAuth 2.0) as it is', async () => {
      const flowId = newFlowId();
      const { nonce: _nonce, ...withoutNonce } = RECORD;
      await flows.save(flowId, withoutNonce, 300);
      const consumed = await flows.consume(flowId);
      expect(consumed).toMatchObject(withoutNonce);
      expect(consumed.nonce).toBeUndefined();
    });

    it('hands the record to exactly one of 10 concurrent callbacks', async () => {
      const flowId = newFlowId();
      await flows.save(flowId, RECORD, 300);
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => flows.consume(flowId)));
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    });

    it('refuses a flow id it never saved, and one whose record expired', async () => {
      expect(await refusedReason(flows.consume(newFlowId()))).toBe('flow not found (expired or replayed)');
      const flowId = newFlowId();
      await flows.save(flowId, RECORD, 300);
      await under.expire(keyOf(flowId));
      expect(await refusedReason(flows.consume(flowId))).toBe('flow not found (expired or replayed)');
    });

    it('stores ciphertext under a hash of the flow id: neither the id nor anything of the record shows', async () => {
      const flowId = newFlowId();
      await flows.save(flowId, RECORD, 300);
      const stored = await under.store.get(keyOf(flowId));
      expect(stored).toBeDefined();
      for (const secret of [flowId, RECORD.state, RECORD.nonce!, RECORD.codeVerifier, RECORD.returnTo, 'app.example.com']) {
        expect(stored).not.toContain(secret);
      }
      expect(keyOf(flowId)).not.toContain(flowId);
    });

    it('refuses a record sealed under another flow id (planted, or moved to another key)', async () => {
      const flowId = newFlowId();
      const sealed = seal(newFlowId(), JSON.stringify({ v: FLOW_RECORD_VERSION, ...RECORD }));
      await under.store.set(keyOf(flowId), sealed, 300);
      expect(await refusedReason(flows.consume(flowId))).toBe('flow record does not open');
    });

    it('refuses, as a login to start again, a record of another version (a rolling deploy)', async () => {
      const flowId = newFlowId();
      await under.store.set(keyOf(flowId), seal(flowId, JSON.stringify({ ...RECORD, v: FLOW_RECORD_VERSION + 1 })), 300);
      expect(await refusedReason(flows.consume(flowId))).toBe('flow record of another version');
      await under.store.set(keyOf(flowId), seal(flowId, JSON.stringify(RECORD)), 300);
      expect(await refusedReason(flows.consume(flowId)), 'a record without a version').toBe('flow record of another version');
    });

    it('refuses a record of this version whose fields are not all there, or not JSON', async () => {
      const flowId = newFlowId();
      const { codeVerifier: _verifier, ...incomplete } = RECORD;
      await under.store.set(keyOf(flowId), seal(flowId, JSON.stringify({ v: FLOW_RECORD_VERSION, ...incomplete })), 300);
      expect(await refusedReason(flows.consume(flowId))).toBe('flow record malformed');
      await under.store.set(
        keyOf(flowId),
        seal(flowId, JSON.stringify({ v: FLOW_RECORD_VERSION, ...RECORD, createdAt: 'yesterday' })),
        300,
      );
      expect(await refusedReason(flows.consume(flowId))).toBe('flow record malformed');
      await under.store.set(keyOf(flowId), seal(flowId, '{not json'), 300);
      expect(await refusedReason(flows.consume(flowId))).toBe('flow record malformed');
    });
  });
}

flowStoreContract('memory', memoryUnderTest);
flowStoreContract('redis', () => redisUnderTest(redis.url));

describe('FlowStore on Redis', () => {
  it('stores the record with the TTL it was given', async () => {
    const under = await redisUnderTest(redis.url);
    try {
      const flowId = newFlowId();
      await new FlowStore(under.store).save(flowId, RECORD, 300);
      const ttl = await under.redis.raw.ttl(`${under.redis.prefix}${storeKeys.flow(flowStoreId(flowId))}`);
      expect(ttl).toBeGreaterThan(295);
      expect(ttl).toBeLessThanOrEqual(300);
    } finally {
      await under.close();
    }
  });
});
