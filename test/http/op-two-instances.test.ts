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

  it('a sign-out on one instance sends both apps their logout token', async () => {
    const browser = new TestBrowser();
    await stack.appSignIn(browser, 'one');
    await stack.appSignIn(browser, 'two');
    stack.logoutTokens.length = 0;
    expect((await browser.request(network, `${stack.publicUrl}/logout`, { method: 'POST' })).status).toBe(302);
    await pollUntil(async () => stack.logoutTokens.length >= 2, { what: 'both apps’ logout tokens', timeoutMs: 3000 });
  });
});
