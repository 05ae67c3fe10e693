import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { sleep } from '../support/wait.js';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PorteroError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { createRedisClient, redactedUrl } from '../../src/store/redis-client.js';
import { DEFAULT_PREFIX, RedisStore } from '../../src/store/redis.js';
import { isolatedRedisStore, LogCapture } from '../support/app.js';
import { startRedisServer, testRedis, type RedisServer } from '../support/redis-server.js';
import { storeContract } from './contract.js';

const redis = await testRedis();
const rawClients: Redis[] = [];
afterAll(async () => {
  for (const raw of rawClients) raw.disconnect();
  await redis.stop();
});

storeContract('redis', async () => {
  const { store, raw, prefix } = await isolatedRedisStore(redis.url);
  rawClients.push(raw);
  return {
    store,
    expire: async (key) => {
      expect(await raw.pexpire(prefix + key, 1)).toBe(1);
      await sleep(10);
    },
  };
});

describe('RedisStore keys and TTLs', () => {
  let client: Redis;
  let raw: Redis;
  const key = (label: string) => `${label}:${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    client = new Redis(redis.url);
    raw = new Redis(redis.url);
    await Promise.all([once(client, 'ready'), once(raw, 'ready')]);
  });
  afterAll(() => {
    client.disconnect();
    raw.disconnect();
  });

  it('prefixes every key, portero: by default, so one Redis can be shared', async () => {
    expect(DEFAULT_PREFIX).toBe('portero:');
    const k = key('flow');
    await new RedisStore(client).set(k, 'default', 60);
    await new RedisStore(client, 'tenant-b:').set(k, 'other', 60);
    expect(await raw.get(`portero:${k}`)).toBe('default');
    expect(await raw.get(`tenant-b:${k}`)).toBe('other');
    expect(await raw.exists(k)).toBe(0);
    expect(await new RedisStore(client, 'tenant-b:').getAndDelete(k)).toBe('other');
    expect(await new RedisStore(client).get(k)).toBe('default');
    await raw.del(`portero:${k}`);
  });

  it('stores set values with their TTL in Redis', async () => {
    const store = new RedisStore(client, 'ttl-test:');
    const k = key('flow');
    await store.set(k, 'v', 300);
    const ttl = await raw.ttl(`ttl-test:${k}`);
    expect(ttl).toBeGreaterThan(295);
    expect(ttl).toBeLessThanOrEqual(300);
  });

  it('sets the incr TTL at the first increment and never extends it', async () => {
    const store = new RedisStore(client, 'incr-test:');
    const k = key('attempts');
    expect(await store.incr(k, 60)).toBe(1);
    const first = await raw.pttl(`incr-test:${k}`);
    expect(first).toBeGreaterThan(59_000);
    expect(first).toBeLessThanOrEqual(60_000);
    // As if 55 s of the window had passed.
    await raw.pexpire(`incr-test:${k}`, 5000);
    expect(await store.incr(k, 60)).toBe(2);
    const later = await raw.pttl(`incr-test:${k}`);
    expect(later).toBeGreaterThan(0);
    expect(later).toBeLessThanOrEqual(5000);
  });

  it('keeps the password out of the URL it logs', () => {
    expect(redactedUrl('redis://:hunter2@cache.internal:6379/0')).toBe('redis://:***@cache.internal:6379/0');
    expect(redactedUrl('not a url')).toBe('redis://(unparseable)');
  });
});

/** The outcome of a call that should fail: the error and how long it took. */
async function failure(call: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  const error = await call().then(
    () => undefined,
    (err: unknown) => err,
  );
  return { error, ms: Date.now() - started };
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await condition()) return Date.now() - started;
    await sleep(100);
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

describe('RedisStore on createRedisClient when Redis fails', () => {
  let server: RedisServer;
  let client: Redis;
  let store: RedisStore;
  let logs: LogCapture;

  const everyMethod = () => ({
    get: () => store.get('k'),
    set: () => store.set('k', 'v', 60),
    getAndDelete: () => store.getAndDelete('k'),
    incr: () => store.incr('n', 60),
    ping: () => store.ping(),
  });

  async function expectAllUnavailable() {
    const outcomes = await Promise.all(Object.entries(everyMethod()).map(async ([name, call]) => ({ name, ...(await failure(call)) })));
    for (const { name, error, ms } of outcomes) {
      expect(error, name).toBeInstanceOf(PorteroError);
      expect((error as PorteroError).code, name).toBe('store_unavailable');
      expect(ms, name).toBeLessThan(2000);
    }
  }

  beforeEach(async () => {
    server = await startRedisServer();
    logs = new LogCapture();
    client = createRedisClient(server.url, createLogger('info', logs));
    await once(client, 'ready');
    store = new RedisStore(client, 'fault:');
    await store.set('k', 'before', 60);
  });
  afterEach(async () => {
    client.disconnect();
    await server.stop();
  });

  it('rejects every method with store_unavailable within 2 s when the server dies, and recovers by itself', async () => {
    await server.kill();
    await expectAllUnavailable();
    const unreachable = () => logs.lines.filter((line) => line.msg === 'redis unreachable').length;
    await until(async () => unreachable() > 0, 3000);
    await sleep(1500); // a few more failed reconnects, which must not log again

    await server.restart();
    await until(
      () =>
        store.ping().then(
          () => true,
          () => false,
        ),
      8000,
    );
    // The restarted server is empty; the store works again without being rebuilt.
    expect(await store.get('k')).toBeUndefined();
    await store.set('k', 'after', 60);
    expect(await store.getAndDelete('k')).toBe('after');

    // One line for the outage and one for the recovery, not one per reconnect attempt.
    const messages = logs.lines.map((line) => line.msg);
    expect(messages.filter((msg) => msg === 'redis unreachable')).toHaveLength(1);
    expect(messages.filter((msg) => msg === 'redis reachable again')).toHaveLength(1);
  });

  it('rejects every method with store_unavailable within 2 s when the server hangs, and answers again when it resumes', async () => {
    server.pause();
    try {
      await expectAllUnavailable();
    } finally {
      server.resume();
    }
    await until(
      () =>
        store.ping().then(
          () => true,
          () => false,
        ),
      5000,
    );
    await store.set('k', 'after', 60);
    expect(await store.get('k')).toBe('after');
  });
});
