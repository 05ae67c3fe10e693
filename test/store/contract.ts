import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.js';

/** The TTL of every key the contract expires; keys that must survive an `expire` live far longer. */
export const SHORT_TTL = 60;
const LONG_TTL = 3600;

export interface StoreUnderTest {
  readonly store: Store;
  /**
   * Makes `key` expire now, as if its TTL had run out (Redis: PEXPIRE). A store that cannot expire
   * one key alone may move its clock by SHORT_TTL seconds instead (memory).
   */
  expire(key: string): Promise<void>;
}

/**
 * What every `Store` promises (see `src/store/types.ts`), run against each implementation.
 * The factory is called before each test; the store is closed after it.
 */
export function storeContract(name: string, factory: () => StoreUnderTest | Promise<StoreUnderTest>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let expire: (key: string) => Promise<void>;
    // Fresh names per test, so a shared Redis never mixes tests.
    const key = (label: string) => `${label}:${randomBytes(6).toString('hex')}`;

    beforeEach(async () => {
      ({ store, expire } = await factory());
    });
    afterEach(async () => {
      await store.close();
    });

    it('answers undefined for a key that was never set', async () => {
      expect(await store.get(key('absent'))).toBeUndefined();
      expect(await store.getAndDelete(key('absent'))).toBeUndefined();
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
      await expire(k);
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

    it('incr counts 1, 2, 3 per key, and starts again after the window expires', async () => {
      const k = key('count');
      const other = key('count-other');
      expect(await store.incr(k, SHORT_TTL)).toBe(1);
      expect(await store.incr(k, SHORT_TTL)).toBe(2);
      expect(await store.incr(other, LONG_TTL)).toBe(1);
      expect(await store.incr(k, SHORT_TTL)).toBe(3);
      await expire(k);
      expect(await store.incr(k, SHORT_TTL)).toBe(1);
      expect(await store.incr(other, LONG_TTL)).toBe(2);
    });

    it('counts every one of 20 concurrent increments', async () => {
      const k = key('count-race');
      const counts = await Promise.all(Array.from({ length: 20 }, () => store.incr(k, 60)));
      expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
    });

    it('ping resolves', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
