import { parseConfig } from '../../src/config/parse.js';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PorteroError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { connectStore, type StoreConnection } from '../../src/store/connect.js';
import { EvictionGuard, mayEvict, parseMemoryInfo } from '../../src/store/eviction.js';
import { createRedisClient } from '../../src/store/redis-client.js';
import { LogCapture } from '../support/app.js';
import { freePort, type RedisServer, startRedisServer } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';
import { everyStoreMethod } from '../support/store-under-test.js';

const LIMITED = ['--maxmemory', '2mb'];
const FIX = 'set maxmemory-policy noeviction on Redis (a managed Redis: in its parameter group), or REDIS_ALLOW_EVICTION=true to accept it';
const evicting = (policy: string) => `Redis may evict portero's keys (maxmemory 2097152 bytes, maxmemory-policy ${policy}): ${FIX}`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function redisServer(args: readonly string[] = []): Promise<RedisServer> {
  const server = await startRedisServer({ args });
  cleanups.push(() => server.stop());
  return server;
}

/** A second client, as an operator with redis-cli. */
async function admin(url: string): Promise<Redis> {
  const client = new Redis(url);
  cleanups.push(async () => client.disconnect());
  await once(client, 'ready');
  return client;
}

/** The store as src/main.ts connects it, and what it logged. */
async function connect(url: string, allowEviction = false, startupWait = 5): Promise<{ connection: StoreConnection; logs: LogCapture }> {
  const logs = new LogCapture();
  const connection = await connectStore(
    { ...parseConfig({ REDIS_URL: url }).redis, startupWait, allowEviction },
    createLogger('debug', logs),
  );
  cleanups.push(() => connection.close());
  return { connection, logs };
}

/** What the store's ping ends in: 'serves', or the reason of its refusal (or its message when it has none). */
const outcome = (connection: StoreConnection) =>
  connection.store.ping().then(
    () => 'serves',
    (err: PorteroError) => String(err.detail.reason ?? err.message),
  );

const everyMethod = (store: StoreConnection['store']) => everyStoreMethod(store);

describe('reading INFO memory', () => {
  it('finds maxmemory and maxmemory_policy in what a real redis-server answers', async () => {
    const server = await redisServer([...LIMITED, '--maxmemory-policy', 'volatile-lru']);
    const info = await (await admin(server.url)).info('memory');
    expect(parseMemoryInfo(info)).toEqual({ maxmemory: 2097152, policy: 'volatile-lru' });
    expect(parseMemoryInfo('# Memory\r\nused_memory:1000\r\n')).toBeUndefined();
  });

  it('counts every policy but noeviction as evicting under a memory limit, and none without one', () => {
    const policies = ['volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random'];
    for (const policy of policies) {
      expect(mayEvict({ maxmemory: 1, policy }), policy).toBe(true);
      expect(mayEvict({ maxmemory: 0, policy }), policy).toBe(false);
    }
    expect(mayEvict({ maxmemory: 2097152, policy: 'noeviction' })).toBe(false);
  });
});

describe('a store on a Redis that may evict its keys', () => {
  for (const policy of ['volatile-lru', 'allkeys-lru']) {
    it(`refuses every operation under maxmemory-policy ${policy}, sending nothing to Redis, and says so once in an error line`, async () => {
      const server = await redisServer([...LIMITED, '--maxmemory-policy', policy]);
      const { connection, logs } = await connect(server.url);
      for (const [name, call] of Object.entries(everyMethod(connection.store))) {
        const error = await call().then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(error, name).toBeInstanceOf(PorteroError);
        expect((error as PorteroError).code, name).toBe('store_unavailable');
        expect((error as PorteroError).detail.reason, name).toBe(evicting(policy));
      }
      expect(await (await admin(server.url)).dbsize()).toBe(0);
      const errors = logs.lines.filter((line) => line.level === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ msg: `refusing to serve: ${evicting(policy)}`, maxmemory: 2097152, policy, fix: FIX });
    });
  }

  it('serves with REDIS_ALLOW_EVICTION, warning once that a signed-out token may pass again', async () => {
    const server = await redisServer([...LIMITED, '--maxmemory-policy', 'volatile-lru']);
    const { connection, logs } = await connect(server.url, true);
    expect(await outcome(connection)).toBe('serves');
    await connection.store.set('k', 'v', 60);
    expect(logs.lines.filter((line) => line.level === 'warn')).toEqual([
      expect.objectContaining({
        msg: "redis may evict portero's keys, so a signed-out token may pass /auth again: serving anyway, as REDIS_ALLOW_EVICTION=true accepts",
        policy: 'volatile-lru',
      }),
    ]);
    expect(logs.lines.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('serves under noeviction with a memory limit, and under any policy without one', async () => {
    for (const args of [
      [...LIMITED, '--maxmemory-policy', 'noeviction'],
      ['--maxmemory', '0', '--maxmemory-policy', 'allkeys-lru'],
    ]) {
      const server = await redisServer(args);
      const { connection, logs } = await connect(server.url);
      expect(await outcome(connection), args.join(' ')).toBe('serves');
      expect(logs.lines.filter((line) => line.level === 'error' || line.level === 'warn')).toEqual([]);
    }
  });

  it('notices a policy changed at runtime on the reconnect after it, and serves again once it is put back', async () => {
    const server = await redisServer([...LIMITED, '--maxmemory-policy', 'noeviction']);
    const { connection, logs } = await connect(server.url);
    expect(await outcome(connection)).toBe('serves');
    const operator = await admin(server.url);

    await operator.config('SET', 'maxmemory-policy', 'volatile-lru');
    await operator.call('CLIENT', 'KILL', 'TYPE', 'normal'); // every connection but the operator's own
    const refused = async () => (await outcome(connection)) === evicting('volatile-lru');
    await pollUntil(refused, { what: 'the store to refuse after the reconnect', timeoutMs: 5000, intervalMs: 50 });

    await operator.config('SET', 'maxmemory-policy', 'noeviction');
    await operator.call('CLIENT', 'KILL', 'TYPE', 'normal');
    const serves = async () => (await outcome(connection)) === 'serves';
    await pollUntil(serves, { what: 'the store to serve again', timeoutMs: 5000, intervalMs: 50 });
    expect(logs.lines.filter((line) => line.level === 'error')).toHaveLength(1);
    expect(logs.lines.filter((line) => line.msg === 'redis no longer evicts: serving again')).toHaveLength(1);
  });

  it('serves nothing on a new connection before it is checked, whatever the last one was', async () => {
    const server = await redisServer([...LIMITED, '--maxmemory-policy', 'noeviction']);
    const client = createRedisClient(server.url, createLogger('silent'));
    cleanups.push(async () => client.disconnect());
    await once(client, 'ready');
    const guard = new EvictionGuard(client, { allowEviction: false, logger: createLogger('silent') });
    cleanups.push(async () => guard.stop());
    await guard.check();
    expect(guard.refusal()).toBeUndefined();

    const operator = await admin(server.url);
    await operator.config('SET', 'maxmemory-policy', 'volatile-lru');
    // At the reconnect's 'ready', before the check of the new connection has had an answer.
    const atReady = new Promise<string | undefined>((resolve) =>
      client.once('ready', () => resolve(String(guard.refusal()?.detail.reason))),
    );
    await operator.call('CLIENT', 'KILL', 'TYPE', 'normal');
    expect(await atReady).toBe("Redis's maxmemory-policy is not checked yet on this connection");
    await pollUntil(() => guard.refusal()?.detail.reason === evicting('volatile-lru'), { what: 'the check', timeoutMs: 3000 });
  });

  it('checks the first connection too when Redis comes after portero started', async () => {
    const port = await freePort();
    const { connection } = await connect(`redis://127.0.0.1:${port}`, false, 0);
    expect(await outcome(connection)).not.toBe('serves');
    const server = await startRedisServer({ port, args: [...LIMITED, '--maxmemory-policy', 'allkeys-lru'] });
    cleanups.push(() => server.stop());
    const refused = async () => (await outcome(connection)) === evicting('allkeys-lru');
    await pollUntil(refused, { what: 'the store to refuse once Redis is there', timeoutMs: 5000, intervalMs: 50 });
  });

  it('reads the policy again on a live connection, so a CONFIG SET is noticed without a reconnect', async () => {
    const server = await redisServer([...LIMITED, '--maxmemory-policy', 'noeviction']);
    const client = createRedisClient(server.url, createLogger('silent'));
    cleanups.push(async () => client.disconnect());
    await once(client, 'ready');
    const guard = new EvictionGuard(client, { allowEviction: false, logger: createLogger('silent'), recheckMs: 100 });
    cleanups.push(async () => guard.stop());
    await guard.check();
    expect(guard.refusal()).toBeUndefined();
    await (await admin(server.url)).config('SET', 'maxmemory-policy', 'volatile-ttl');
    await pollUntil(() => guard.refusal()?.detail.reason === evicting('volatile-ttl'), {
      what: 'the periodic check to notice',
      timeoutMs: 3000,
      intervalMs: 50,
    });
  });
});

describe('a store whose Redis will not answer INFO', () => {
  async function limitedUser(): Promise<string> {
    const server = await redisServer([...LIMITED, '--maxmemory-policy', 'noeviction']);
    await (await admin(server.url)).call('ACL', 'SETUSER', 'portero', 'on', '>a-password', '~*', '&*', '+@all', '-info');
    // ioredis's own ready check meets the same refusal, and says so on the console.
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    cleanups.push(async () => {
      vi.restoreAllMocks();
    });
    return `redis://portero:a-password@127.0.0.1:${server.port}`;
  }

  it('refuses to serve, saying it cannot tell and what to do, as it cannot rule out eviction', async () => {
    const { connection, logs } = await connect(await limitedUser());
    const reason = await outcome(connection);
    expect(reason).toMatch(/^cannot tell whether Redis may evict portero's keys \(INFO memory refused: NOPERM .*info.*\): /);
    expect(reason).toMatch(/allow INFO, or REDIS_ALLOW_EVICTION=true once its maxmemory-policy is noeviction$/);
    expect(logs.lines.filter((line) => line.level === 'error')).toHaveLength(1);
  });

  it('serves with REDIS_ALLOW_EVICTION, warning', async () => {
    const { connection, logs } = await connect(await limitedUser(), true);
    expect(await outcome(connection)).toBe('serves');
    expect(logs.lines.filter((line) => line.level === 'warn')).toHaveLength(1);
  });
});
