import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PorteroError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { createRedisClient, redactedUrl } from '../../src/store/redis-client.js';
import { RedisStore } from '../../src/store/redis.js';
import { isolatedRedisStore, LogCapture, ManualClock } from '../support/app.js';
import { type RedisClusterNode, type RedisServer, startRedisClusterNode, startRedisServer, testRedis } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';
import { storeContract } from './contract.js';
import { everyStoreMethod } from '../support/store-under-test.js';

const redis = await testRedis();
const cluster: RedisClusterNode = await startRedisClusterNode();
afterAll(async () => {
  await redis.stop();
  await cluster.stop();
});

/** A time in the past: Redis drops the key at once, as when its TTL runs out. */
const expireNow = async (raw: Redis | Cluster, key: string) => {
  expect(await raw.pexpireat(key, 1)).toBe(1);
};

storeContract('redis', async () => {
  const clock = new ManualClock();
  const isolated = await isolatedRedisStore(redis.url, undefined, clock);
  return {
    store: isolated.store,
    expire: (key) => expireNow(isolated.raw, isolated.prefix + key),
    advance: (seconds) => clock.advance(seconds),
    close: () => isolated.close(),
  };
});

// The same contract through ioredis's Cluster client: every operation is on one key (a script's
// keys, too), or this node would refuse it with CROSSSLOT, as every Redis Cluster does.
storeContract('redis cluster (one node holding every slot)', async () => {
  const clock = new ManualClock();
  const client = new Cluster([{ host: cluster.host, port: cluster.port }], { enableOfflineQueue: true });
  client.on('error', () => {});
  await once(client, 'ready');
  const prefix = `{test-${randomBytes(4).toString('hex')}}:`;
  const store = new RedisStore(client, { prefix, clock });
  return {
    store,
    expire: (key) => expireNow(client, prefix + key),
    advance: (seconds) => clock.advance(seconds),
    async close() {
      await store.close();
      client.disconnect();
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
    const k = key('flow');
    await new RedisStore(client).set(k, 'default', 60);
    await new RedisStore(client, { prefix: 'tenant-b:' }).set(k, 'other', 60);
    expect(await raw.get(`portero:${k}`)).toBe('default');
    expect(await raw.get(`tenant-b:${k}`)).toBe('other');
    expect(await raw.exists(k)).toBe(0);
    expect(await new RedisStore(client, { prefix: 'tenant-b:' }).getAndDelete(k)).toBe('other');
    expect(await new RedisStore(client).get(k)).toBe('default');
    await raw.del(`portero:${k}`);
  });

  it('stores set values with their TTL in Redis', async () => {
    const store = new RedisStore(client, { prefix: 'ttl-test:' });
    const k = key('flow');
    await store.set(k, 'v', 300);
    const ttl = await raw.ttl(`ttl-test:${k}`);
    expect(ttl).toBeGreaterThan(295);
    expect(ttl).toBeLessThanOrEqual(300);
  });

  it('gives a lock its TTL, and its owner a new one', async () => {
    const store = new RedisStore(client, { prefix: 'lock-test:' });
    const k = key('lock');
    expect(await store.setIfAbsent(k, 'me', 10)).toBe(true);
    expect(await raw.pttl(`lock-test:${k}`)).toBeLessThanOrEqual(10_000);
    expect(await store.expireIfValue(k, 'me', 300)).toBe(true);
    expect(await raw.pttl(`lock-test:${k}`)).toBeGreaterThan(295_000);
    expect(await store.expireIfValue(k, 'someone else', 1)).toBe(false);
    expect(await raw.pttl(`lock-test:${k}`)).toBeGreaterThan(295_000);
  });

  it('keeps a set as long as its longest-lived member, and no longer', async () => {
    const store = new RedisStore(client, { prefix: 'set-test:' });
    const k = key('sessions');
    await store.addMember(k, 'short', 60);
    expect(await raw.pttl(`set-test:${k}`)).toBeLessThanOrEqual(60_000);
    await store.addMember(k, 'long', 600);
    expect(await raw.pttl(`set-test:${k}`)).toBeGreaterThan(595_000);
    expect(await raw.pttl(`set-test:${k}`)).toBeLessThanOrEqual(600_000);
  });

  it('publishes on the prefixed channel, which other programs on the server see', async () => {
    const store = new RedisStore(client, { prefix: 'pubsub-test:' });
    const listener = raw.duplicate();
    try {
      await listener.subscribe('pubsub-test:revocations');
      const received = once(listener, 'message');
      await store.publish('revocations', 'sid-1');
      expect(await received).toEqual(['pubsub-test:revocations', 'sid-1']);
    } finally {
      listener.disconnect();
    }
  });

  it('never closes the client it was given, only its own subscriber connection', async () => {
    const given = new Redis(redis.url);
    await once(given, 'ready');
    const store = new RedisStore(given, { prefix: 'close-test:' });
    const unsubscribe = await store.subscribe('channel', () => {});
    const subscribers = async () => Number(/^connected_clients:(\d+)/m.exec(await raw.info('clients'))?.[1]);
    const before = await subscribers();
    await unsubscribe();
    await store.close();
    expect(given.status).toBe('ready');
    expect(await given.ping()).toBe('PONG');
    await pollUntil(async () => (await subscribers()) === before - 1, { what: 'the subscriber connection to close', timeoutMs: 2000 });
    given.disconnect();
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

describe('RedisStore on createRedisClient when Redis fails', () => {
  let server: RedisServer;
  let client: Redis;
  let store: RedisStore;
  let logs: LogCapture;

  const everyMethod = () => everyStoreMethod(store);

  async function expectAllUnavailable() {
    const outcomes = await Promise.all(Object.entries(everyMethod()).map(async ([name, call]) => ({ name, ...(await failure(call)) })));
    for (const { name, error, ms } of outcomes) {
      expect(error, name).toBeInstanceOf(PorteroError);
      expect((error as PorteroError).code, name).toBe('store_unavailable');
      expect(ms, name).toBeLessThan(2000);
    }
  }

  const answers = () =>
    store.ping().then(
      () => true,
      () => false,
    );

  beforeEach(async () => {
    server = await startRedisServer();
    logs = new LogCapture();
    client = createRedisClient(server.url, createLogger('info', logs));
    await once(client, 'ready');
    store = new RedisStore(client, { prefix: 'fault:' });
    await store.set('k', 'before', 60);
  });
  afterEach(async () => {
    await store.close();
    client.disconnect();
    await server.stop();
  });

  it('rejects every method with store_unavailable within 2 s when the server dies, and recovers by itself', async () => {
    await server.kill();
    await expectAllUnavailable();
    // Count failed reconnects rather than wait: several more, and they must not log again.
    let reconnects = 0;
    client.on('reconnecting', () => reconnects++);
    await pollUntil(() => reconnects >= 3, { what: 'three reconnect attempts', timeoutMs: 10_000 });

    await server.restart();
    await pollUntil(answers, { what: 'the store to answer again', timeoutMs: 8000, intervalMs: 100 });
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
    await pollUntil(answers, { what: 'the store to answer again', timeoutMs: 5000, intervalMs: 100 });
    await store.set('k', 'after', 60);
    expect(await store.get('k')).toBe('after');
  });

  it('delivers again to a subscription made before the outage, once Redis is back', async () => {
    const received: string[] = [];
    await store.subscribe('revocations', (message) => received.push(message));
    await server.kill();
    await server.restart();
    // Published until the subscriber connection has resubscribed by itself and one arrives.
    await pollUntil(
      async () => {
        await store.publish('revocations', 'after the outage').catch(() => undefined);
        return received.length > 0;
      },
      { what: 'a message after the outage', timeoutMs: 10_000, intervalMs: 200 },
    );
    expect(received[0]).toBe('after the outage');
  });

  it('tells a subscription it is lost when the server dies, and live again only once it is subscribed again', async () => {
    const received: string[] = [];
    const live: boolean[] = [];
    await store.subscribe(
      'revocations',
      (message) => received.push(message),
      (now) => live.push(now),
    );
    await server.kill();
    await pollUntil(() => live.length > 0, { what: 'the loss to be told', timeoutMs: 2000, intervalMs: 20 });
    expect(live).toEqual([false]);
    await server.restart();
    await pollUntil(() => live.length > 1, { what: 'the return to be told', timeoutMs: 10_000, intervalMs: 50 });
    expect(live).toEqual([false, true]);
    // Live means subscribed: the first message published after it arrives.
    await store.publish('revocations', 'first after the return');
    await pollUntil(() => received.length > 0, { what: 'the message', timeoutMs: 2000, intervalMs: 20 });
    expect(received).toEqual(['first after the return']);
  });

  it('tells a subscription it is lost when the server stops answering, without waiting for the connection to close', async () => {
    const live: boolean[] = [];
    await store.subscribe(
      'revocations',
      () => {},
      (now) => live.push(now),
    );
    const paused = Date.now();
    server.pause();
    try {
      await pollUntil(() => live.length > 0, { what: 'the loss to be told', timeoutMs: 5000, intervalMs: 20 });
      console.info(`subscription counted as lost ${Date.now() - paused} ms after Redis stopped answering`);
      expect(live).toEqual([false]);
    } finally {
      server.resume();
    }
    await pollUntil(() => live.length > 1, { what: 'the return to be told', timeoutMs: 10_000, intervalMs: 50 });
    expect(live).toEqual([false, true]);
  });
});
