import { describe, expect, it } from 'vitest';
import { cleanups, expectCleanFailover, throughFailover, twoInstances, untilDelivered } from '../support/failover.js';
import { startRedisSentinel } from '../support/redis-topology.js';

// A master, a replica and three sentinels; the master dies under a steady stream of logins through
// two instances, and with a subscription open. See test/support/failover.ts and docs/OPERATIONS.md.

describe('the Sentinel master dies', () => {
  it('the sentinels promote the replica, and portero follows by itself', async () => {
    const sentinel = await startRedisSentinel();
    cleanups.push(() => sentinel.stop());
    const instances = await twoInstances(sentinel.env);
    const before = await sentinel.masterPort();
    const result = await throughFailover(
      instances,
      async () => {
        const master = sentinel.dataNodes.find((node) => node.port === before);
        await master?.kill();
      },
      async () => ({ killed: before, master: await sentinel.masterPort() }),
    );
    expect(await sentinel.masterPort()).not.toBe(before);
    await expectCleanFailover(result, instances, 'sentinel failover');
  }, 90_000);

  it('a subscription made before the master died delivers again, on the new master', async () => {
    const sentinel = await startRedisSentinel();
    cleanups.push(() => sentinel.stop());
    const [a, b] = await twoInstances(sentinel.env);
    const received: string[] = [];
    await a.connection.store.subscribe('failover-test', (message) => received.push(message));
    const before = await sentinel.masterPort();
    const killedAt = Date.now();
    await sentinel.dataNodes.find((node) => node.port === before)?.kill();
    const ms = await untilDelivered(b.connection, received, killedAt);
    console.log(`sentinel: a subscription delivered again ${ms} ms after the master died`);
  }, 60_000);
});
