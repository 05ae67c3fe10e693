import type { KeyValueStore } from '../../src/store/types.js';
import { type IsolatedRedisStore, isolatedRedisStore, ManualClock } from './app.js';
import { MemoryStore } from '../../src/store/memory.js';

/** What a domain store's contract runs on: a key-value store, the clock it and the domain store share, and a way to expire one key. */
export interface KeyValueUnderTest {
  readonly store: KeyValueStore;
  readonly clock: ManualClock;
  /**
   * Makes `key` (unprefixed) expire now, as if its TTL had run out. Memory cannot expire one key
   * alone and moves its clock a day instead: a contract must not count on other keys surviving this.
   */
  expire(key: string): Promise<void>;
  close(): Promise<void>;
}

/** A memory store on a manual clock, as a domain contract runs on it. */
export function memoryUnderTest(): KeyValueUnderTest {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  return { store, clock, expire: async () => clock.advance(24 * 3600), close: () => store.close() };
}

/** A Redis store of the test's own (its own prefix) on a manual clock, as a domain contract runs on it. */
export async function redisUnderTest(url: string): Promise<KeyValueUnderTest & { readonly redis: IsolatedRedisStore }> {
  const clock = new ManualClock();
  const redis = await isolatedRedisStore(url, undefined, clock);
  return {
    store: redis.store,
    clock,
    redis,
    async expire(key) {
      // A time in the past: Redis drops the key at once, as when its TTL runs out.
      await redis.raw.pexpireat(redis.prefix + key, 1);
    },
    close: () => redis.close(),
  };
}
