import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import type { KeyValueStore } from '../../src/store/types.js';
import { issueToken } from '../../src/tokens/issue.js';
import { ephemeralKeySet, type KeySet } from '../../src/tokens/keys.js';
import { buildTestApp, type IsolatedRedisStore, isolatedRedisStore, ManualClock, type TestApp } from '../support/app.js';
import { createLogger } from '../../src/logger.js';
import { RedisStore } from '../../src/store/redis.js';
import { createRedisClient } from '../../src/store/redis-client.js';
import { freePort, type RedisServer, startRedisServer } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';

// Sign-outs reach every instance through the store's publish/subscribe and live in each
// instance's deny-set, so /auth asks Redis nothing per request while that feed is live; whenever it
// is not, /auth reads the store per request, and with the store gone too it answers 503 (or, within
// REVOCATION_GRACE, trusts the deny-set). Real redis-servers throughout, killed for the outages.

const GATEWAY = 'https://gateway.test';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The store with its `get`s counted: the per-request read of a revocation is a `get`. */
function counting(store: KeyValueStore): { store: KeyValueStore; gets: () => number } {
  let gets = 0;
  const counted = new Proxy(store, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (typeof value !== 'function') return value;
      if (name === 'get') {
        return (...args: Parameters<KeyValueStore['get']>) => {
          gets++;
          return target.get(...args);
        };
      }
      return value.bind(target);
    },
  });
  return { store: counted, gets: () => gets };
}

interface Instance {
  readonly gateway: TestApp;
  readonly redis: IsolatedRedisStore;
  readonly gets: () => number;
}

async function redisServer(): Promise<RedisServer> {
  const server = await startRedisServer();
  cleanups.push(() => server.stop());
  return server;
}

/** An instance on `server` with the shared prefix and keys, as operators run several. */
async function instance(
  server: RedisServer,
  keys: KeySet,
  options: { prefix?: string; env?: Record<string, string>; clock?: Clock } = {},
): Promise<Instance> {
  const redis = await isolatedRedisStore(server.url, options.prefix, options.clock);
  cleanups.push(() => redis.close());
  const { store, gets } = counting(redis.store);
  const gateway = await buildTestApp({
    store,
    keys,
    env: { LOG_LEVEL: 'warn', ...options.env },
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return { gateway, redis, gets };
}

const auth = (at: Instance, token: string) =>
  at.gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
const logout = (at: Instance, token: string) =>
  at.gateway.app.request(`${GATEWAY}/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });

async function tokenOf(at: Instance, subject: string, clock?: Clock): Promise<string> {
  const { token } = await issueToken(at.gateway.keys, at.gateway.config.tokens, clock ?? { now: () => Date.now() }, 'corp', { subject });
  return token;
}

/** Until `at` lets `token` through without reading the store: its feed of sign-outs is live. */
async function untilLive(at: Instance, token: string): Promise<void> {
  await pollUntil(
    async () => {
      const before = at.gets();
      return (await auth(at, token)).status === 200 && at.gets() === before;
    },
    { what: 'the feed of sign-outs to be live', timeoutMs: 10_000, intervalMs: 20 },
  );
}

describe('sign-outs across instances', () => {
  it('a logout on B is refused by B at once and by A within a second, without A reading Redis', async () => {
    const server = await redisServer();
    const keys = await ephemeralKeySet('ES256');
    const a = await instance(server, keys);
    const b = await instance(server, keys, { prefix: a.redis.prefix });
    const token = await tokenOf(a, 'grace');
    await untilLive(a, token);
    await untilLive(b, token);

    const readsBefore = a.gets();
    expect((await logout(b, token)).status).toBe(302);
    const signedOut = Date.now();
    expect((await auth(b, token)).status).toBe(401);
    await pollUntil(async () => (await auth(a, token)).status === 401, { what: 'A to refuse the token', timeoutMs: 1000, intervalMs: 1 });
    console.info(`a sign-out on B was refused by A ${Date.now() - signedOut} ms later`);
    expect(a.gets()).toBe(readsBefore);
  });

  it('a logout on B while A is resubscribing is still refused by A within a second', async () => {
    const server = await redisServer();
    const keys = await ephemeralKeySet('ES256');
    const a = await instance(server, keys);
    const b = await instance(server, keys, { prefix: a.redis.prefix });
    const token = await tokenOf(a, 'grace');
    await untilLive(a, token);
    // A's subscriber connection (and B's) dropped by the server: what B publishes now, A may miss.
    await a.redis.raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    expect((await logout(b, token)).status).toBe(302);
    const signedOut = Date.now();
    await pollUntil(async () => (await auth(a, token)).status === 401, { what: 'A to refuse the token', timeoutMs: 1000, intervalMs: 5 });
    console.info(`a sign-out on B during A's resubscription was refused by A ${Date.now() - signedOut} ms later`);
    // And A is live again, having loaded the sign-out from the store rather than from a message.
    await untilLive(a, await tokenOf(a, 'other'));
    expect((await auth(a, token)).status).toBe(401);
  });

  it('learns, on subscribing, of the sign-outs made before it started', async () => {
    const server = await redisServer();
    const keys = await ephemeralKeySet('ES256');
    const a = await instance(server, keys);
    const token = await tokenOf(a, 'grace');
    expect((await logout(a, token)).status).toBe(302);
    const late = await instance(server, keys, { prefix: a.redis.prefix });
    await untilLive(late, await tokenOf(a, 'other'));
    const before = late.gets();
    expect((await auth(late, token)).status).toBe(401);
    expect(late.gets()).toBe(before);
  });
});

describe('with Redis killed', () => {
  it('answers 503 for a valid token and 401 for one signed out before the outage, then serves again once Redis is back', async () => {
    const server = await redisServer();
    const keys = await ephemeralKeySet('ES256');
    const a = await instance(server, keys);
    const b = await instance(server, keys, { prefix: a.redis.prefix });
    const valid = await tokenOf(a, 'valid');
    const revoked = await tokenOf(a, 'revoked');
    await untilLive(a, valid);
    expect((await logout(b, revoked)).status).toBe(302);
    await pollUntil(async () => (await auth(a, revoked)).status === 401, { what: 'A to refuse the token', timeoutMs: 1000, intervalMs: 5 });

    await server.kill();
    await pollUntil(async () => (await auth(a, valid)).status === 503, { what: '/auth to answer 503', timeoutMs: 3000, intervalMs: 20 });
    expect((await auth(a, revoked)).status).toBe(401);

    // Back, but empty (no persistence): the revocation is gone from Redis, not from the instances that knew it.
    await server.restart();
    await pollUntil(async () => (await auth(a, valid)).status === 200, { what: '/auth to serve again', timeoutMs: 10_000, intervalMs: 50 });
    expect((await auth(a, revoked)).status).toBe(401);
    expect((await auth(b, revoked)).status).toBe(401);
  });

  it('with REVOCATION_GRACE, serves from the deny-set for that long, never letting a signed-out token through, then 503', async () => {
    const server = await redisServer();
    const keys = await ephemeralKeySet('ES256');
    const clock = new ManualClock();
    const env = { REVOCATION_GRACE: '30' };
    const a = await instance(server, keys, { env, clock });
    const b = await instance(server, keys, { env, clock, prefix: a.redis.prefix });
    const valid = await tokenOf(a, 'valid', clock);
    const revoked = await tokenOf(a, 'revoked', clock);
    await untilLive(a, valid);
    expect((await logout(b, revoked)).status).toBe(302);
    await pollUntil(async () => (await auth(a, revoked)).status === 401, { what: 'A to refuse the token', timeoutMs: 1000, intervalMs: 5 });

    await server.kill();
    // The feed is lost as the connection closes; the store cannot be read; the deny-set serves.
    await pollUntil(
      async () => {
        const before = a.gets();
        const status = (await auth(a, valid)).status;
        return a.gets() > before && status === 200;
      },
      { what: '/auth to read the store and fall back to the deny-set', timeoutMs: 3000, intervalMs: 20 },
    );
    const reads = a.gets();
    expect((await auth(a, valid)).status).toBe(200);
    expect(a.gets()).toBeGreaterThan(reads);
    expect((await auth(a, revoked)).status).toBe(401);
    clock.advance(30);
    expect((await auth(a, valid)).status).toBe(200);
    clock.advance(1);
    expect((await auth(a, valid)).status).toBe(503);
    expect((await auth(a, revoked)).status).toBe(401);
  });
});

describe('started while Redis is down', () => {
  it('answers 503 until Redis comes, then follows the sign-outs like any other instance', async () => {
    const port = await freePort();
    const keys = await ephemeralKeySet('ES256');
    // The client as src/main.ts builds it, on a port where no Redis listens yet.
    const client = createRedisClient(`redis://127.0.0.1:${port}`, createLogger('silent'));
    const redisStore = new RedisStore(client, { prefix: 'late:' });
    cleanups.push(async () => {
      await redisStore.close();
      client.disconnect();
    });
    const { store, gets } = counting(redisStore);
    const early: Instance = { gateway: await buildTestApp({ store, keys, env: { LOG_LEVEL: 'warn' } }), redis: undefined as never, gets };
    const token = await tokenOf(early, 'grace');
    expect((await auth(early, token)).status).toBe(503);

    const server = await startRedisServer({ port });
    cleanups.push(() => server.stop());
    await untilLive(early, token);
    const other = await instance(server, keys, { prefix: 'late:' });
    expect((await logout(other, token)).status).toBe(302);
    const before = early.gets();
    await pollUntil(async () => (await auth(early, token)).status === 401, {
      what: 'the late instance to refuse the token',
      timeoutMs: 1000,
      intervalMs: 5,
    });
    expect(early.gets()).toBe(before);
  });
});
