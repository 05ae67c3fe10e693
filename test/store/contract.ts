import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KeyValueStore } from '../../src/store/types.js';

/** The TTL of every key the contract expires; keys that must survive an `expire` live far longer. */
export const SHORT_TTL = 60;
const LONG_TTL = 3600;

export interface StoreUnderTest {
  readonly store: KeyValueStore;
  /**
   * Makes `key` expire now, as if its TTL had run out (Redis: PEXPIREAT in the past). A store that
   * cannot expire one key alone may move its clock by SHORT_TTL seconds instead (memory).
   */
  expire(key: string): Promise<void>;
  /** Moves the store's clock `seconds` forward: what set members expire by. */
  advance(seconds: number): void;
  /** Closes what the factory made, the store's connection included. */
  close(): Promise<void>;
}

/** A promise that resolves with the next `count` values `subscribe` delivers on `channel`. */
async function collect(store: KeyValueStore, channel: string, count: number) {
  const received: string[] = [];
  let done!: (values: string[]) => void;
  const all = new Promise<string[]>((resolve) => (done = resolve));
  const unsubscribe = await store.subscribe(channel, (message) => {
    received.push(message);
    if (received.length === count) done(received);
  });
  return { received, all, unsubscribe };
}

/**
 * What every `KeyValueStore` promises (see `src/store/types.ts`), run against each implementation.
 * The factory is called before each test; what it made is closed after it.
 */
export function storeContract(name: string, factory: () => StoreUnderTest | Promise<StoreUnderTest>): void {
  describe(`KeyValueStore contract: ${name}`, () => {
    let store: KeyValueStore;
    let under: StoreUnderTest;
    // Fresh names per test, so a shared Redis never mixes tests.
    const key = (label: string) => `${label}:${randomBytes(6).toString('hex')}`;

    beforeEach(async () => {
      under = await factory();
      store = under.store;
    });
    afterEach(async () => {
      await under?.close();
    });

    describe('values', () => {
      it('answers undefined for a key that was never set', async () => {
        expect(await store.get(key('absent'))).toBeUndefined();
        expect(await store.getAndDelete(key('absent'))).toBeUndefined();
        expect(await store.delete(key('absent'))).toBe(false);
      });

      it('returns what was set, byte for byte', async () => {
        const k = key('value');
        const value = '{"state":"é ✓ \\u0000","n":1}';
        await store.set(k, value, 60);
        expect(await store.get(k)).toBe(value);
        // get does not consume.
        expect(await store.get(k)).toBe(value);
      });

      it('replaces the value on a second set', async () => {
        const k = key('replace');
        await store.set(k, 'first', 60);
        await store.set(k, 'second', 60);
        expect(await store.get(k)).toBe('second');
      });

      it('forgets a value once its TTL has run out', async () => {
        const k = key('ttl');
        const other = key('ttl-other');
        await store.set(k, 'soon gone', SHORT_TTL);
        await store.set(other, 'stays', LONG_TTL);
        await under.expire(k);
        expect(await store.get(k)).toBeUndefined();
        expect(await store.getAndDelete(k)).toBeUndefined();
        expect(await store.get(other)).toBe('stays');
      });

      it('getAndDelete returns the value once, then undefined', async () => {
        const k = key('once');
        await store.set(k, 'flow', 60);
        expect(await store.getAndDelete(k)).toBe('flow');
        expect(await store.getAndDelete(k)).toBeUndefined();
        expect(await store.get(k)).toBeUndefined();
      });

      it('gives the value to exactly one of 20 concurrent getAndDelete calls', async () => {
        const k = key('race');
        await store.set(k, 'only-once', 60);
        const results = await Promise.all(Array.from({ length: 20 }, () => store.getAndDelete(k)));
        expect(results.filter((value) => value === 'only-once')).toHaveLength(1);
        expect(results.filter((value) => value === undefined)).toHaveLength(19);
      });

      it('setIfPresent replaces a value that is there, and never writes back one deleted or expired', async () => {
        const k = key('present');
        expect(await store.setIfPresent(k, 'resurrected', 60)).toBe(false);
        expect(await store.get(k)).toBeUndefined();
        await store.set(k, 'first', SHORT_TTL);
        expect(await store.setIfPresent(k, 'second', LONG_TTL)).toBe(true);
        expect(await store.get(k)).toBe('second');
        await store.delete(k);
        expect(await store.setIfPresent(k, 'third', 60)).toBe(false);
        expect(await store.get(k)).toBeUndefined();
        await store.set(k, 'soon gone', SHORT_TTL);
        await under.expire(k);
        expect(await store.setIfPresent(k, 'fourth', 60)).toBe(false);
        expect(await store.get(k)).toBeUndefined();
      });

      it('delete removes the key and says whether there was one', async () => {
        const k = key('delete');
        await store.set(k, 'v', 60);
        expect(await store.delete(k)).toBe(true);
        expect(await store.get(k)).toBeUndefined();
        expect(await store.delete(k)).toBe(false);
      });
    });

    describe('locks: setIfAbsent, deleteIfValue, expireIfValue', () => {
      it('setIfAbsent stores only into an empty key, and again once the holder expired', async () => {
        const k = key('lock');
        expect(await store.setIfAbsent(k, 'owner-a', SHORT_TTL)).toBe(true);
        expect(await store.setIfAbsent(k, 'owner-b', SHORT_TTL)).toBe(false);
        expect(await store.get(k)).toBe('owner-a');
        await under.expire(k);
        expect(await store.setIfAbsent(k, 'owner-b', SHORT_TTL)).toBe(true);
        expect(await store.get(k)).toBe('owner-b');
      });

      it('gives the key to exactly one of 20 concurrent setIfAbsent calls', async () => {
        const k = key('lock-race');
        const won = await Promise.all(Array.from({ length: 20 }, (_, n) => store.setIfAbsent(k, `owner-${n}`, 60)));
        expect(won.filter(Boolean)).toHaveLength(1);
        expect(await store.get(k)).toBe(`owner-${won.indexOf(true)}`);
      });

      it('deleteIfValue releases only for the owner', async () => {
        const k = key('release');
        await store.setIfAbsent(k, 'owner-a', 60);
        expect(await store.deleteIfValue(k, 'owner-b')).toBe(false);
        expect(await store.get(k)).toBe('owner-a');
        expect(await store.deleteIfValue(k, 'owner-a')).toBe(true);
        expect(await store.get(k)).toBeUndefined();
        expect(await store.deleteIfValue(k, 'owner-a')).toBe(false);
      });

      it("expireIfValue answers true for the owner only (each store's own tests check the TTL it gives)", async () => {
        const k = key('extend');
        await store.setIfAbsent(k, 'owner-a', SHORT_TTL);
        expect(await store.expireIfValue(k, 'owner-b', LONG_TTL)).toBe(false);
        expect(await store.expireIfValue(k, 'owner-a', LONG_TTL)).toBe(true);
        expect(await store.expireIfValue(key('absent'), 'owner-a', LONG_TTL)).toBe(false);
        expect(await store.get(k)).toBe('owner-a');
      });
    });

    describe('sets of expiring members', () => {
      it('lists what was added, once each, and forgets what was removed', async () => {
        const k = key('set');
        await store.addMember(k, 'sid-1', 60);
        await store.addMember(k, 'sid-2', 60);
        await store.addMember(k, 'sid-1', 60);
        expect((await store.members(k)).sort()).toEqual(['sid-1', 'sid-2']);
        expect(await store.removeMember(k, 'sid-1')).toBe(true);
        expect(await store.removeMember(k, 'sid-1')).toBe(false);
        expect(await store.members(k)).toEqual(['sid-2']);
        expect(await store.members(key('empty'))).toEqual([]);
      });

      it('drops each member when its own TTL has run out, and renews one added again', async () => {
        const k = key('set-ttl');
        await store.addMember(k, 'short', SHORT_TTL);
        await store.addMember(k, 'long', LONG_TTL);
        await store.addMember(k, 'renewed', SHORT_TTL);
        under.advance(SHORT_TTL / 2);
        await store.addMember(k, 'renewed', SHORT_TTL);
        under.advance(SHORT_TTL / 2 + 1);
        expect((await store.members(k)).sort()).toEqual(['long', 'renewed']);
        under.advance(SHORT_TTL);
        expect(await store.members(k)).toEqual(['long']);
      });

      it('keeps sets apart from values and from each other', async () => {
        const a = key('set-a');
        const b = key('set-b');
        await store.addMember(a, 'x', 60);
        await store.addMember(b, 'y', 60);
        expect(await store.members(a)).toEqual(['x']);
        expect(await store.members(b)).toEqual(['y']);
      });
    });

    describe('publish and subscribe', () => {
      it('delivers every message published on a channel, in order, to every subscriber', async () => {
        const channel = key('channel');
        const first = await collect(store, channel, 3);
        const second = await collect(store, channel, 3);
        const other = await collect(store, key('other-channel'), 1);
        for (const message of ['revoke:1', 'revoke:2', 'é ✓']) await store.publish(channel, message);
        expect(await first.all).toEqual(['revoke:1', 'revoke:2', 'é ✓']);
        expect(await second.all).toEqual(['revoke:1', 'revoke:2', 'é ✓']);
        expect(other.received).toEqual([]);
        await Promise.all([first.unsubscribe(), second.unsubscribe(), other.unsubscribe()]);
      });

      it('stops delivering to a subscription once it unsubscribed, and others go on', async () => {
        const channel = key('channel');
        const leaving = await collect(store, channel, 1);
        const staying = await collect(store, channel, 2);
        await store.publish(channel, 'before');
        expect(await leaving.all).toEqual(['before']);
        await leaving.unsubscribe();
        await store.publish(channel, 'after');
        // The staying subscription received "after", so the leaving one would have too by now.
        expect(await staying.all).toEqual(['before', 'after']);
        expect(leaving.received).toEqual(['before']);
        await staying.unsubscribe();
      });
    });

    describe('rate limiters', () => {
      it("allow the rule's points per key, then refuse with the seconds left in the window", async () => {
        const limiter = store.rateLimiter(`test-${randomBytes(4).toString('hex')}`, { points: 3, duration: 30 });
        const answers = [];
        for (let i = 0; i < 5; i++) answers.push(await limiter.consume('203.0.113.5'));
        expect(answers.slice(0, 3)).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }]);
        for (const refused of answers.slice(3)) {
          expect(refused).toMatchObject({ allowed: false });
          expect((refused as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(0);
          expect((refused as { retryAfterSeconds: number }).retryAfterSeconds).toBeLessThanOrEqual(30);
        }
        // Another key has its own count.
        expect(await limiter.consume('198.51.100.9')).toEqual({ allowed: true });
      });

      it('count together when made twice with one name, as two instances do', async () => {
        const name = `test-${randomBytes(4).toString('hex')}`;
        const first = store.rateLimiter(name, { points: 2, duration: 30 });
        const second = store.rateLimiter(name, { points: 2, duration: 30 });
        expect(await first.consume('k')).toEqual({ allowed: true });
        expect(await second.consume('k')).toEqual({ allowed: true });
        expect(await first.consume('k')).toMatchObject({ allowed: false });
        expect(await second.consume('k')).toMatchObject({ allowed: false });
      });
    });

    it('ping resolves', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
