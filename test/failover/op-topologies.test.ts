import { decodeJwt } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { network, TestBrowser } from '../support/browser.js';
import { type PorteroOpStack, startPorteroOp } from '../support/portero-op.js';
import { startRedisCluster, startRedisSentinel } from '../support/redis-topology.js';
import { pollUntil } from '../support/wait.js';

// The OpenID Provider on the Redis topologies operators run (Sentinel, Cluster): two instances on
// each, behind a round-robin balancer, so every step of an app's sign-in, its single sign-on and
// the back-channel logout may reach the other instance, on a real topology.

const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

async function signInAndOut(stack: PorteroOpStack): Promise<void> {
  const browser = new TestBrowser();
  const one = await stack.appSignIn(browser, 'one');
  expect(one.walk.sawUpstream).toBe(true);
  const two = await stack.appSignIn(browser, 'two');
  expect(two.walk.sawUpstream).toBe(false);
  expect(decodeJwt(two.tokens.id_token!).sid).toBe(decodeJwt(one.tokens.id_token!).sid);
  stack.logoutTokens.length = 0;
  expect((await browser.request(network, `${stack.publicUrl}/logout`, { method: 'POST' })).status).toBe(302);
  await pollUntil(async () => stack.logoutTokens.length >= 2, { what: 'both apps’ logout tokens', timeoutMs: 5000 });
}

describe('the OpenID Provider on every Redis topology', () => {
  it('signs in, single sign-on included, and signs out by back-channel on a Cluster', async () => {
    const cluster = await startRedisCluster({ masters: 3, replicas: 0 });
    stops.push(() => cluster.stop());
    const stack = await startPorteroOp({}, { redisEnv: cluster.env });
    stops.push(() => stack.close());
    await signInAndOut(stack);
  }, 60_000);

  it('signs in, single sign-on included, and signs out by back-channel behind Sentinel', async () => {
    const sentinel = await startRedisSentinel({ replicas: 1, sentinels: 3 });
    stops.push(() => sentinel.stop());
    const stack = await startPorteroOp({}, { redisEnv: sentinel.env });
    stops.push(() => stack.close());
    await signInAndOut(stack);
  }, 60_000);
});
