import { afterAll, beforeAll } from 'vitest';
import type { KeyValueStore } from '../../src/store/types.js';
import { type IsolatedRedisStore, isolatedRedisStore, ManualClock } from './app.js';
import { type RedisServer, startRedisServer } from './redis-server.js';
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

/** One call of every `KeyValueStore` method, by name: for tests that every one fails (or is refused) alike. */
export const everyStoreMethod = (store: KeyValueStore) => ({
  get: () => store.get('k'),
  set: () => store.set('k', 'v', 60),
  setIfAbsent: () => store.setIfAbsent('lock', 'me', 60),
  getAndDelete: () => store.getAndDelete('k'),
  delete: () => store.delete('k'),
  deleteIfValue: () => store.deleteIfValue('lock', 'me'),
  expireIfValue: () => store.expireIfValue('lock', 'me', 60),
  addMember: () => store.addMember('set', 'm', 60),
  removeMember: () => store.removeMember('set', 'm'),
  members: () => store.members('set'),
  publish: () => store.publish('channel', 'message'),
  subscribe: () => store.subscribe('channel', () => {}),
  rateLimiter: () => store.rateLimiter('login', { points: 10, duration: 60 }).consume('203.0.113.5'),
  ping: () => store.ping(),
});

/**
 * A real redis-server for the test file, started before its tests and stopped after them, with
 * every isolated store made on it closed first. Call at the top of the file.
 */
export function redisForThisFile(): { isolated(prefix?: string): Promise<IsolatedRedisStore> } {
  let redis: RedisServer | undefined;
  const opened: IsolatedRedisStore[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const store of opened) await store.close();
    await redis?.stop();
  });
  return {
    async isolated(prefix) {
      if (!redis) throw new Error('redisForThisFile: the server starts in beforeAll; call isolated() in a test');
      const store = await isolatedRedisStore(redis.url, prefix);
      opened.push(store);
      return store;
    },
  };
}
