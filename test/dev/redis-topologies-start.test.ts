import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { type GatewayProcess, startGateway } from '../support/process.js';
import { type RedisClusterTopology, type RedisSentinelTopology, startRedisCluster, startRedisSentinel } from '../support/redis-topology.js';
import { pollUntil } from '../support/wait.js';

// `node dist/main.js` as an operator runs it, on a real cluster and a real Sentinel group named by
// REDIS_CLUSTER_NODES and REDIS_SENTINELS: ready, and a login's flow stored there.

const started: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  for (const item of started.reverse()) await item.stop();
});

/** The flow keys the servers on `ports` hold, all together. */
async function flowKeys(ports: readonly number[]): Promise<number> {
  let count = 0;
  for (const port of ports) {
    const admin = new Redis({ host: '127.0.0.1', port });
    try {
      count += (await admin.keys('portero:flow:*')).length;
    } finally {
      admin.disconnect();
    }
  }
  return count;
}

async function serves(env: Record<string, string>, topology: string, masters: () => Promise<number[]>): Promise<GatewayProcess> {
  const gateway = await startGateway({ env });
  started.push(gateway);
  await pollUntil(async () => (await fetch(`${gateway.url}/readyz`)).status === 200, {
    what: `${gateway.url}/readyz to answer 200`,
    timeoutMs: 10_000,
    intervalMs: 100,
  }).catch((err: Error) => {
    throw new Error(`${err.message}\n${gateway.logs()}`);
  });
  expect(gateway.logLines().find((line) => line.msg === 'store: redis')).toMatchObject({ topology });
  const login = await fetch(`${gateway.url}/login/dev`, { redirect: 'manual' });
  expect(login.status).toBe(302);
  expect(await flowKeys(await masters())).toBe(1);
  return gateway;
}

it('runs on a Redis Cluster named by REDIS_CLUSTER_NODES', async () => {
  const cluster: RedisClusterTopology = await startRedisCluster({ masters: 3 });
  started.push(cluster);
  await serves(cluster.env, 'cluster', () => cluster.masterPorts());
});

it('runs on a Sentinel group named by REDIS_SENTINELS and REDIS_SENTINEL_NAME', async () => {
  const sentinel: RedisSentinelTopology = await startRedisSentinel();
  started.push(sentinel);
  await serves(sentinel.env, 'sentinel', async () => [await sentinel.masterPort()]);
});

it('refuses to start with two topologies, naming both', async () => {
  await expect(
    startGateway({ env: { REDIS_URL: 'redis://127.0.0.1:1', REDIS_CLUSTER_NODES: '127.0.0.1:2' }, timeoutMs: 5000 }),
  ).rejects.toThrow(/not REDIS_URL and REDIS_CLUSTER_NODES/);
});
