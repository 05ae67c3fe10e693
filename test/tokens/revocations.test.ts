import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeKeys } from '../../src/store/keys.js';
import { REVOCATION_VERSION, Revocations } from '../../src/tokens/revocations.js';
import { testRedis } from '../support/redis-server.js';
import { type KeyValueUnderTest, memoryUnderTest, redisUnderTest } from '../support/store-under-test.js';

const redis = await testRedis();
afterAll(() => redis.stop());

/** What `Revocations` promises on any key-value store. */
function revocationsContract(name: string, factory: () => KeyValueUnderTest | Promise<KeyValueUnderTest>) {
  describe(`Revocations contract: ${name}`, () => {
    let under: KeyValueUnderTest;
    let revocations: Revocations;
    const now = () => Math.floor(under.clock.now() / 1000);
    beforeEach(async () => {
      under = await factory();
      revocations = new Revocations(under.store, under.clock, 0);
    });
    afterEach(() => under.close());

    it('says a session is revoked once it was, and only that session', async () => {
      expect(await revocations.isRevoked('sid-a')).toBe(false);
      await revocations.revoke('sid-a', now() + 600);
      expect(await revocations.isRevoked('sid-a')).toBe(true);
      expect(await revocations.isRevoked('sid-b')).toBe(false);
    });

    it('writes a versioned record', async () => {
      await revocations.revoke('sid-v', now() + 600);
      expect(JSON.parse((await under.store.get(storeKeys.revokedSession('sid-v')))!)).toEqual({ v: 1, at: now() });
    });

    it('stores nothing for a token that expired already', async () => {
      await revocations.revoke('sid-old', now());
      await revocations.revoke('sid-older', now() - 60);
      expect(await under.store.get(storeKeys.revokedSession('sid-old'))).toBeUndefined();
      expect(await revocations.isRevoked('sid-older')).toBe(false);
    });

    it('forgets a revocation whose key expired', async () => {
      await revocations.revoke('sid-t', now() + 600);
      await under.expire(storeKeys.revokedSession('sid-t'));
      expect(await revocations.isRevoked('sid-t')).toBe(false);
    });

    it('counts a record it cannot read (another version) as revoked: a revocation is never dropped', async () => {
      await under.store.set(storeKeys.revokedSession('sid-new'), JSON.stringify({ v: REVOCATION_VERSION + 1, reason: 'admin' }), 600);
      await under.store.set(storeKeys.revokedSession('sid-old-format'), '1', 600);
      expect(await revocations.isRevoked('sid-new')).toBe(true);
      expect(await revocations.isRevoked('sid-old-format')).toBe(true);
    });
  });
}

revocationsContract('memory', memoryUnderTest);
revocationsContract('redis', () => redisUnderTest(redis.url));

describe('Revocations on memory', () => {
  it('lives until the exp of the token it denies, and not a second longer', async () => {
    const under = memoryUnderTest();
    const revocations = new Revocations(under.store, under.clock, 0);
    await revocations.revoke('sid-exp', Math.floor(under.clock.now() / 1000) + 600);
    under.clock.advance(599);
    expect(await revocations.isRevoked('sid-exp')).toBe(true);
    under.clock.advance(1);
    expect(await revocations.isRevoked('sid-exp')).toBe(false);
  });
});

describe('Revocations with a clock skew', () => {
  it('outlives the exp of the token by the skew, so an instance whose clock runs behind still refuses it', async () => {
    const under = memoryUnderTest();
    const revocations = new Revocations(under.store, under.clock, 30);
    await revocations.revoke('sid-skew', Math.floor(under.clock.now() / 1000) + 600);
    under.clock.advance(600 + 29);
    expect(await revocations.isRevoked('sid-skew')).toBe(true);
    under.clock.advance(1);
    expect(await revocations.isRevoked('sid-skew')).toBe(false);
  });

  it('is stored for a token expired by less than the skew: another instance may still take it', async () => {
    const under = memoryUnderTest();
    const revocations = new Revocations(under.store, under.clock, 30);
    await revocations.revoke('sid-just-expired', Math.floor(under.clock.now() / 1000) - 10);
    await revocations.revoke('sid-long-expired', Math.floor(under.clock.now() / 1000) - 30);
    expect(await revocations.isRevoked('sid-just-expired')).toBe(true);
    under.clock.advance(20);
    expect(await revocations.isRevoked('sid-just-expired')).toBe(false);
    expect(await under.store.get(storeKeys.revokedSession('sid-long-expired'))).toBeUndefined();
  });
});

describe('Revocations on Redis', () => {
  it('lives exactly as long as the token it denies, plus the clock skew', async () => {
    const under = await redisUnderTest(redis.url);
    try {
      await new Revocations(under.store, under.clock, 30).revoke('sid-ttl', Math.floor(under.clock.now() / 1000) + 900);
      const ttl = await under.redis.raw.ttl(`${under.redis.prefix}${storeKeys.revokedSession('sid-ttl')}`);
      expect(ttl).toBeGreaterThan(925);
      expect(ttl).toBeLessThanOrEqual(930);
    } finally {
      await under.close();
    }
  });
});
