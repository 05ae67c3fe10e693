import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PorteroError, STORE_UNAVAILABLE } from '../../src/errors.js';
import { storeKeys } from '../../src/store/keys.js';
import type { KeyValueStore } from '../../src/store/types.js';
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

    it('forgets a revocation whose key expired (on an instance that only reads the store)', async () => {
      await revocations.revoke('sid-t', now() + 600);
      await under.expire(storeKeys.revokedSession('sid-t'));
      expect(await new Revocations(under.store, under.clock, 0).isRevoked('sid-t')).toBe(false);
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

/** `store` with some methods replaced; the others called on the store itself (its private fields need it). */
function overriding(store: KeyValueStore, overrides: Partial<KeyValueStore>): KeyValueStore {
  return new Proxy(store, {
    get(target, name) {
      if (name in overrides) return overrides[name as keyof KeyValueStore];
      const value = Reflect.get(target, name, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * A memory store whose subscription's liveness the test reports (as RedisStore does on a lost
 * connection), and whose loads of the revoked set can be held back, with its reads counted.
 */
function feedUnderTest() {
  const under = memoryUnderTest();
  let onLive: ((live: boolean) => void) | undefined;
  let held: Promise<void> | undefined;
  let gets = 0;
  const store = overriding(under.store, {
    get: (key) => {
      gets++;
      return under.store.get(key);
    },
    members: async (key) => {
      await held;
      return under.store.members(key);
    },
    subscribe: (channel, message, live) => {
      onLive = live;
      return under.store.subscribe(channel, message);
    },
  });
  let release = () => {};
  return {
    under,
    store,
    gets: () => gets,
    report: (live: boolean) => onLive?.(live),
    hold() {
      held = new Promise((resolve) => {
        release = resolve;
      });
    },
    release: () => release(),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('Revocations following the store', () => {
  it('asks the store nothing while the feed is live, reads it per request while lost, and is live again once reloaded', async () => {
    const feed = feedUnderTest();
    const revocations = new Revocations(feed.store, feed.under.clock, 0);
    const exp = Math.floor(feed.under.clock.now() / 1000) + 600;
    revocations.follow();
    await settle();
    expect(revocations.live).toBe(true);
    expect(await revocations.isRevoked('sid-a')).toBe(false);
    expect(feed.gets()).toBe(0);

    feed.hold();
    feed.report(false);
    feed.report(true);
    expect(revocations.live).toBe(false);
    // An instance of an earlier version writes the key only, and publishes nothing.
    await feed.under.store.set(storeKeys.revokedSession('sid-old-instance'), '1', 600);
    expect(await revocations.isRevoked('sid-old-instance')).toBe(true);
    expect(feed.gets()).toBe(1);

    await new Revocations(feed.store, feed.under.clock, 0).revoke('sid-b', exp);
    feed.release();
    await settle();
    expect(revocations.live).toBe(true);
    expect(await revocations.isRevoked('sid-b')).toBe(true);
    expect(feed.gets()).toBe(1);
  });

  it('writes back, on reloading, the sign-outs it denies that the store lost: an instance started since refuses them too', async () => {
    const feed = feedUnderTest();
    const revocations = new Revocations(feed.store, feed.under.clock, 0);
    const exp = Math.floor(feed.under.clock.now() / 1000) + 600;
    revocations.follow();
    await settle();
    await new Revocations(feed.store, feed.under.clock, 0).revoke('sid-lost', exp);
    await settle();
    expect(await revocations.isRevoked('sid-lost')).toBe(true);
    // Redis restarts empty (no persistence, or a failover to a replica that had not received it).
    feed.report(false);
    await feed.under.store.delete(storeKeys.revokedSession('sid-lost'));
    await feed.under.store.removeMember(storeKeys.revokedSessions, JSON.stringify({ v: REVOCATION_VERSION, sid: 'sid-lost', until: exp }));
    feed.report(true);
    await settle();
    expect(revocations.live).toBe(true);
    // A rolling deploy: an instance started after the outage knows only what the store holds.
    const started = new Revocations(feed.store, feed.under.clock, 0);
    expect(await started.isRevoked('sid-lost')).toBe(true);
    started.follow();
    await settle();
    expect(started.live).toBe(true);
    expect(await started.isRevoked('sid-lost')).toBe(true);
  });

  it('counts an unreadable message as a lost feed, and reads the store until the set is loaded again', async () => {
    const feed = feedUnderTest();
    const revocations = new Revocations(feed.store, feed.under.clock, 0);
    revocations.follow();
    await settle();
    feed.hold();
    await feed.store.publish(storeKeys.revocationChannel, JSON.stringify({ v: 2, session: 'sid-x' }));
    await settle();
    expect(revocations.live).toBe(false);
    await feed.under.store.set(storeKeys.revokedSession('sid-x'), JSON.stringify({ v: 2 }), 600);
    expect(await revocations.isRevoked('sid-x')).toBe(true);
    feed.release();
    await settle();
    expect(revocations.live).toBe(true);
  });

  it('denies at once on the instance that signs out, even when the store then fails', async () => {
    const feed = feedUnderTest();
    const failing = overriding(feed.store, { set: () => Promise.reject(new PorteroError(STORE_UNAVAILABLE, 'down')) });
    const revocations = new Revocations(failing, feed.under.clock, 0);
    await expect(revocations.revoke('sid-c', Math.floor(feed.under.clock.now() / 1000) + 600)).rejects.toMatchObject({
      code: STORE_UNAVAILABLE,
    });
    expect(await revocations.isRevoked('sid-c')).toBe(true);
  });
});

describe('a sign-out the set cannot take', () => {
  it('still reaches the instances following the feed, and is a failure (503) so the user signs out again', async () => {
    const feed = feedUnderTest();
    const other = new Revocations(feed.store, feed.under.clock, 0);
    other.follow();
    await settle();
    const failing = overriding(feed.store, { addMember: () => Promise.reject(new PorteroError(STORE_UNAVAILABLE, 'down')) });
    const revocations = new Revocations(failing, feed.under.clock, 0);
    await expect(revocations.revoke('sid-d', Math.floor(feed.under.clock.now() / 1000) + 600)).rejects.toMatchObject({
      code: STORE_UNAVAILABLE,
    });
    await settle();
    expect(other.live).toBe(true);
    expect(await other.isRevoked('sid-d')).toBe(true);
    expect(feed.gets()).toBe(0);
  });
});
