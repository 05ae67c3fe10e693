import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { cleanups, expectCleanFailover, GATEWAY, idp, tally, throughFailover, twoInstances, untilDelivered } from '../support/failover.js';
import { startLoginStream } from '../support/login-stream.js';
import { NODE_TIMEOUT_MS, startRedisCluster } from '../support/redis-topology.js';
import { pollUntil, sleep } from '../support/wait.js';

// A 3-master cluster with a replica each, and one without replicas; a master dies under a steady
// stream of logins through two instances, and with a subscription open. See test/support/failover.ts
// and docs/OPERATIONS.md.

describe('a cluster master dies', () => {
  it('a replica takes over the dead master’s slots, and portero follows by itself', async () => {
    const cluster = await startRedisCluster({ masters: 3, replicas: 1 });
    cleanups.push(() => cluster.stop());
    const instances = await twoInstances(cluster.env);
    const [victim] = await cluster.masterPorts();
    const result = await throughFailover(
      instances,
      async () => {
        await cluster.nodes.find((node) => node.port === victim)?.kill();
      },
      async () => ({ killed: victim, masters: await cluster.masterPorts() }),
    );
    expect(await cluster.masterPorts()).not.toContain(victim);
    await expectCleanFailover(result, instances, 'cluster failover');
  }, 90_000);

  it('a subscription whose node died moves to another and delivers again', async () => {
    const cluster = await startRedisCluster({ masters: 3, replicas: 1 });
    cleanups.push(() => cluster.stop());
    const [a, b] = await twoInstances(cluster.env);
    const received: string[] = [];
    await a.connection.store.subscribe('failover-test', (message) => received.push(message));
    // The node holding the subscriber connection (a master or a replica), and its master if it is a replica.
    const holder = await pollUntil(
      async () => {
        for (const node of cluster.nodes) {
          const admin = new Redis({ host: '127.0.0.1', port: node.port });
          try {
            if (String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).trim()) return node;
          } finally {
            admin.disconnect();
          }
        }
        return undefined;
      },
      { what: 'the node holding the subscription', timeoutMs: 5000 },
    );
    const killedAt = Date.now();
    await holder.kill();
    const ms = await untilDelivered(b.connection, received, killedAt);
    console.log(`cluster: a subscription delivered again ${ms} ms after its node died`);
  }, 60_000);

  it('without replicas: /readyz answers 503 on both instances while slots have no master, and logins get the clean answer', async () => {
    const cluster = await startRedisCluster({ masters: 3 });
    cleanups.push(() => cluster.stop());
    const instances = await twoInstances(cluster.env);
    for (const { test } of instances) expect((await test.app.request(`${GATEWAY}/readyz`)).status).toBe(200);
    const [victim] = await cluster.masterPorts();
    const killedAt = Date.now();
    await cluster.nodes.find((node) => node.port === victim)?.kill();
    // The other masters still answer PING: only the cluster's own word (cluster_state) tells.
    await pollUntil(
      async () => {
        const statuses = await Promise.all(instances.map(async ({ test }) => (await test.app.request(`${GATEWAY}/readyz`)).status));
        return statuses.every((status) => status === 503);
      },
      { what: '/readyz 503 on both instances', timeoutMs: NODE_TIMEOUT_MS * 10, intervalMs: 50 },
    );
    console.log(`cluster without replicas: /readyz 503 on both instances ${Date.now() - killedAt} ms after a master died`);
    const stream = startLoginStream(idp, [instances[0].test, instances[1].test]);
    await sleep(2000);
    await stream.stop();
    expect(stream.outcomes.length).toBeGreaterThan(0);
    expect(tally(stream.outcomes.filter((o) => o.kind === 'bad'))).toEqual({});
  }, 60_000);
});
