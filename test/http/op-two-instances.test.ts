import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { network, TestBrowser } from '../support/browser.js';
import { type PorteroOpStack, startPorteroOp } from '../support/portero-op.js';
import { testRedis } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';

// The OpenID Provider on several instances: two gateways on one real Redis behind a round-robin
// balancer, so the authorization request, the interaction, portero's callback, the resumed
// authorization, the token exchange and userinfo each reach whichever instance comes next.

let redis: Awaited<ReturnType<typeof testRedis>>;
let stack: PorteroOpStack;
beforeAll(async () => {
  redis = await testRedis();
  stack = await startPorteroOp({}, { redisUrl: redis.url });
});
afterAll(async () => {
  await stack.close();
  await redis.stop();
});

describe('the OpenID Provider on two instances and Redis', () => {
  it('signs in to both apps, single sign-on included, with every step on whichever instance', async () => {
    const browser = new TestBrowser();
    const one = await stack.appSignIn(browser, 'one');
    expect(one.walk.sawUpstream).toBe(true);
    expect(await client.fetchUserInfo(one.config, one.tokens.access_token, 'corp:alice')).toMatchObject({ sub: 'corp:alice' });
    const two = await stack.appSignIn(browser, 'two');
    expect(two.walk.sawUpstream).toBe(false);
    expect(decodeJwt(two.tokens.id_token!).sid).toBe(decodeJwt(one.tokens.id_token!).sid);
  });

  it('keeps nothing in Redis without an expiry, the provider’s records no longer than a session, and about 2.5 KB for an app', async () => {
    const { raw, prefix } = stack.redis!;
    const providerBytes = async () => {
      let bytes = 0;
      for (const key of await raw.keys(`${prefix}op*`)) bytes += Number(await raw.call('MEMORY', 'USAGE', key));
      return bytes;
    };
    await raw.del(...(await raw.keys(`${prefix}op*`)));
    const browser = new TestBrowser();
    await stack.appSignIn(browser, 'one');
    const first = await providerBytes();
    await stack.appSignIn(browser, 'two');
    const second = (await providerBytes()) - first;
    // docs/OPERATIONS.md "Sizing Redis" says these: a session's first app, and each one more.
    expect(first).toBeGreaterThan(1500);
    expect(first).toBeLessThan(3500);
    expect(second).toBeGreaterThan(1000);
    expect(second).toBeLessThan(2500);
    const week = 7 * 24 * 3600;
    for (const key of await raw.keys(`${prefix}*`)) {
      const ttl = await raw.ttl(key);
      expect(ttl, key).toBeGreaterThan(0);
      if (key.slice(prefix.length).startsWith('op')) expect(ttl, key).toBeLessThanOrEqual(week);
    }
  });

  it('a sign-out on one instance sends both apps their logout token', async () => {
    const browser = new TestBrowser();
    await stack.appSignIn(browser, 'one');
    await stack.appSignIn(browser, 'two');
    stack.logoutTokens.length = 0;
    expect((await browser.request(network, `${stack.publicUrl}/logout`, { method: 'POST' })).status).toBe(302);
    await pollUntil(async () => stack.logoutTokens.length >= 2, { what: 'both apps’ logout tokens', timeoutMs: 3000 });
  });
});
