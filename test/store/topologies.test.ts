import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { createLogger } from '../../src/logger.js';
import { connectStore } from '../../src/store/connect.js';
import { createRedisClient, type RedisTarget } from '../../src/store/redis-client.js';
import { RedisStore } from '../../src/store/redis.js';
import { storeKeys } from '../../src/store/keys.js';
import { REVOCATION_VERSION, Revocations } from '../../src/tokens/revocations.js';
import { LogCapture, ManualClock } from '../support/app.js';
import { pollUntil } from '../support/wait.js';
import { type RedisClusterTopology, type RedisSentinelTopology, startRedisCluster, startRedisSentinel } from '../support/redis-topology.js';
import { storeContract } from './contract.js';

// The store on real topologies, each reached as src/main.ts reaches it: the environment an
// operator writes, parsed, then createRedisClient. A 3-master cluster spreads the keys over three
// servers (a multi-key command across slots would be refused with CROSSSLOT); a master, a replica
// and three sentinels serve through whichever master the sentinels name.

const cluster: RedisClusterTopology = await startRedisCluster({ masters: 3 });
const sentinel: RedisSentinelTopology = await startRedisSentinel();
afterAll(async () => {
  await cluster.stop();
  await sentinel.stop();
});

function target(env: Record<string, string>): RedisTarget {
  const { redis } = parseConfig(env);
  if (!redis.topology) throw new Error('no topology in the environment');
  return { ...redis, topology: redis.topology };
}

async function ready(client: ReturnType<typeof createRedisClient>) {
  if (client.status !== 'ready') await once(client, 'ready');
}

for (const [name, env] of [
  ['redis cluster (3 masters, REDIS_CLUSTER_NODES)', () => cluster.env],
  ['redis sentinel (master, replica, 3 sentinels, REDIS_SENTINELS)', () => sentinel.env],
] as const) {
  storeContract(name, async () => {
    const clock = new ManualClock();
    const client = createRedisClient(target(env()), createLogger('silent'));
    await ready(client);
    // No hash tag: the contract's keys land on all three masters.
    const prefix = `test-${randomBytes(4).toString('hex')}:`;
    const store = new RedisStore(client, { prefix, clock });
    return {
      store,
      async expire(key) {
        expect(await client.pexpireat(prefix + key, 1)).toBe(1);
      },
      advance: (seconds) => clock.advance(seconds),
      async close() {
        await store.close();
        client.disconnect();
      },
    };
  });
}

describe('the clients createRedisClient makes', () => {
  it('spreads keys over every master of a cluster, and reaches each through the one client', async () => {
    const client = createRedisClient(target(cluster.env), createLogger('silent'));
    await ready(client);
    expect(client).toBeInstanceOf(Cluster);
    const store = new RedisStore(client, { prefix: 'spread:' });
    try {
      for (let i = 0; i < 30; i++) await store.set(`k${i}`, String(i), 60);
      const held = await Promise.all((client as Cluster).nodes('master').map((node) => node.dbsize()));
      expect(held).toHaveLength(3);
      for (const count of held) expect(count).toBeGreaterThan(0);
      for (let i = 0; i < 30; i++) expect(await store.getAndDelete(`k${i}`)).toBe(String(i));
    } finally {
      client.disconnect();
    }
  });

  it('talks to the master the sentinels name, not to the replica', async () => {
    const client = createRedisClient(target(sentinel.env), createLogger('silent'));
    await ready(client);
    try {
      const port = Number(/^tcp_port:(\d+)/m.exec(await client.info('server'))?.[1]);
      expect(port).toBe(await sentinel.masterPort());
      expect(await client.set('sentinel-write', 'v', 'EX', 60)).toBe('OK');
    } finally {
      client.disconnect();
    }
  });
});

describe('the sign-out feed on a cluster', () => {
  it('counts the feed lost when the subscriber connection moves to another node, and reloads what it missed', async () => {
    // ioredis's Cluster keeps its subscription on one node of its own choosing and, when that
    // connection ends, moves it to another node by itself: the Cluster neither closes nor fails a
    // ping (sent to any node). A sign-out published while it moved reached no one.
    const client = createRedisClient(target(cluster.env), createLogger('silent'));
    await ready(client);
    const prefix = `feed-${randomBytes(4).toString('hex')}:`;
    const store = new RedisStore(client, { prefix });
    const revocations = new Revocations(store, { now: () => Date.now() }, 0);
    const admins = cluster.nodes.map((node) => new Redis({ host: '127.0.0.1', port: node.port }));
    try {
      revocations.follow();
      await pollUntil(() => revocations.live, { what: 'the feed to be live', timeoutMs: 5000, intervalMs: 20 });
      const channel = prefix + storeKeys.revocationChannel;
      const subscribedOn = async () => {
        const counts = await Promise.all(admins.map((admin) => admin.call('PUBSUB', 'NUMSUB', channel) as Promise<[string, number]>));
        return admins.filter((_, index) => Number(counts[index]?.[1]) > 0);
      };
      const [node] = await subscribedOn();
      if (!node) throw new Error('no node holds the subscription');
      // Another instance signs out: the set written, the message published just as the
      // subscriber's connection is closed (one pipeline: the PUBLISH runs before it can reconnect).
      const until = Math.floor(Date.now() / 1000) + 600;
      const record = JSON.stringify({ v: REVOCATION_VERSION, sid: 'moved-sid', until });
      await store.set(storeKeys.revokedSession('moved-sid'), JSON.stringify({ v: REVOCATION_VERSION, at: 0 }), 600);
      await store.addMember(storeKeys.revokedSessions, record, 600);
      await node.pipeline().call('CLIENT', 'KILL', 'TYPE', 'pubsub').publish(channel, record).exec();
      await pollUntil(async () => (await subscribedOn()).length > 0, { what: 'ioredis to resubscribe', timeoutMs: 5000, intervalMs: 20 });
      await pollUntil(async () => await revocations.isRevoked('moved-sid'), {
        what: 'the sign-out missed while the subscription moved to be refused',
        timeoutMs: 5000,
        intervalMs: 50,
      });
    } finally {
      for (const admin of admins) admin.disconnect();
      await store.close();
      client.disconnect();
    }
  });
});

describe('connectStore on each topology', () => {
  it('refuses to serve from a cluster when any one of its masters may evict', async () => {
    // One master of three: INFO sent to whichever node would miss it two times in three.
    const [port] = (await cluster.masterPorts()).slice(-1);
    const admin = new Redis({ host: '127.0.0.1', port });
    try {
      await admin.config('SET', 'maxmemory', '100mb', 'maxmemory-policy', 'volatile-lru');
      const connection = await connectStore(parseConfig(cluster.env).redis, createLogger('silent'));
      try {
        await expect(connection.store.ping()).rejects.toMatchObject({
          code: 'store_unavailable',
          detail: { reason: expect.stringContaining('volatile-lru') },
        });
      } finally {
        await connection.close();
      }
    } finally {
      await admin.config('SET', 'maxmemory', '0', 'maxmemory-policy', 'noeviction');
      admin.disconnect();
    }
  });

  for (const [name, env] of [
    ['cluster', () => cluster.env],
    ['sentinel', () => sentinel.env],
  ] as const) {
    it(`${name}: serves once connected, as src/main.ts connects it`, async () => {
      const logs = new LogCapture();
      const connection = await connectStore(parseConfig(env()).redis, createLogger('debug', logs));
      try {
        await connection.store.ping();
        await connection.store.set('connect-test', 'v', 60);
        expect(await connection.store.getAndDelete('connect-test')).toBe('v');
        expect(logs.lines.find((line) => line.msg === 'store: redis')).toMatchObject({ topology: name });
      } finally {
        await connection.close();
      }
    });
  }
});

describe('REDIS_USERNAME and REDIS_PASSWORD on the data nodes of a cluster and a Sentinel group', () => {
  const user = 'portero';
  const password = 'topology-acl-secret';
  // The default user may look (the harness's checks) but not read or write keys; portero may do all.
  const acl = ['--user', 'default', 'on', 'nopass', '-@all', '+info', '+ping', '+hello', '+cluster'];
  const aclArgs = [...acl, '--user', user, 'on', `>${password}`, '~*', '&*', '+@all'];

  /** Whether connectStore on `env` writes and reads, and whether its log holds the password. */
  async function works(env: Record<string, string>): Promise<boolean> {
    const logs = new LogCapture();
    const connection = await connectStore({ ...parseConfig(env).redis, startupWait: 2 }, createLogger('debug', logs));
    try {
      await connection.store.set('acl-test', 'v', 60);
      return (await connection.store.getAndDelete('acl-test')) === 'v';
    } catch {
      return false;
    } finally {
      await connection.close();
      expect(logs.raw.join('\n')).not.toContain(password);
    }
  }

  it('a cluster: every master is reached as the ACL user, and refuses the store without it', async () => {
    const secured = await startRedisCluster({ masters: 3, args: aclArgs, cliArgs: ['--user', user, '--pass', password] });
    try {
      expect(await works({ ...secured.env, REDIS_USERNAME: user, REDIS_PASSWORD: password })).toBe(true);
      expect(await works(secured.env)).toBe(false);
      expect(await works({ ...secured.env, REDIS_USERNAME: user, REDIS_PASSWORD: 'wrong' })).toBe(false);
    } finally {
      await secured.stop();
    }
  }, 60_000);

  it('a Sentinel group: the master the sentinels name is reached as the ACL user', async () => {
    const secured = await startRedisSentinel({ auth: { user, password, args: aclArgs } });
    try {
      expect(await works({ ...secured.env, REDIS_USERNAME: user, REDIS_PASSWORD: password })).toBe(true);
      expect(await works(secured.env)).toBe(false);
    } finally {
      await secured.stop();
    }
  }, 60_000);
});
