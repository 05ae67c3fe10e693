import { decodeJwt } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ephemeralKeySet } from '../../src/tokens/keys.js';
import { buildTestApp, memoryStore, twoInstancesOnRedis } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { testRedis } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const redis = await testRedis();
const GATEWAY = 'https://gateway.test';
const env = { ...idp.env('corp'), ALLOWED_REDIRECTS: 'https://app.example.com' };

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
/** The Redis connections each test made, closed after it. */
const connections: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const connection of connections.splice(0)) await connection.close();
});
afterAll(async () => {
  msw.close();
  await redis.stop();
});

/** Two instances as operators run them: one Redis, one COOKIE_SECRET, one JWT_KEYS file. */
async function twoInstances() {
  const both = await twoInstancesOnRedis(redis.url, env);
  connections.push(both);
  return { instanceA: both.a, instanceB: both.b, raw: both.raw, prefix: both.prefix };
}

describe('behind a load balancer', () => {
  it('a login started on instance A completes on instance B when they share Redis', async () => {
    const { instanceA, instanceB, raw, prefix } = await twoInstances();
    const browser = new TestBrowser();
    const login = await browser.get(instanceA.app, `${GATEWAY}/login/corp?return_to=https://app.example.com/home`);
    const callback = idp.authorize(login.headers.get('location')!, {
      sub: 'grace',
      claims: { email: 'grace@example.com', email_verified: true },
    });
    expect(await raw.keys(`${prefix}flow:*`)).toHaveLength(1);

    const done = await browser.get(instanceB.app, `${GATEWAY}/callback/corp?${callback}`);
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toBe('https://app.example.com/home');
    const token = (await browser.cookie(GATEWAY, '__Host-auth_token'))!.value;
    expect(decodeJwt(token)).toMatchObject({ sub: 'corp:grace', email: 'grace@example.com' });
    expect(await raw.keys(`${prefix}flow:*`)).toEqual([]);

    // Either instance accepts the token, and a sign-out on B is honoured by B at once and by A within a second.
    const auth = (instance: typeof instanceA) => instance.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } });
    expect((await auth(instanceA)).status).toBe(200);
    await browser.request(instanceB.app, `${GATEWAY}/logout`, { method: 'POST' });
    expect((await auth(instanceB)).status).toBe(401);
    await pollUntil(async () => (await auth(instanceA)).status === 401, { what: 'A to refuse the token', timeoutMs: 1000, intervalMs: 10 });
  });

  it('two logins interleaved in one browser, spread over both instances, both complete', async () => {
    const { instanceA, instanceB } = await twoInstances();
    const browser = new TestBrowser();
    const first = await browser.get(instanceA.app, `${GATEWAY}/login/corp?return_to=https://app.example.com/first`);
    const second = await browser.get(instanceB.app, `${GATEWAY}/login/corp?return_to=https://app.example.com/second`);
    const secondDone = await browser.get(
      instanceA.app,
      `${GATEWAY}/callback/corp?${idp.authorize(second.headers.get('location')!, { sub: 'x' })}`,
    );
    const firstDone = await browser.get(
      instanceB.app,
      `${GATEWAY}/callback/corp?${idp.authorize(first.headers.get('location')!, { sub: 'x' })}`,
    );
    expect(secondDone.headers.get('location')).toBe('https://app.example.com/second');
    expect(firstDone.headers.get('location')).toBe('https://app.example.com/first');
  });

  it('with an in-memory store per instance, the callback on B fails cleanly and the user can start again', async () => {
    const keys = await ephemeralKeySet('ES256');
    const instanceA = await buildTestApp({ store: memoryStore(), keys, env });
    const instanceB = await buildTestApp({ store: memoryStore(), keys, env });
    const browser = new TestBrowser();
    const login = await browser.get(instanceA.app, `${GATEWAY}/login/corp?return_to=https://app.example.com/home`);
    const callback = idp.authorize(login.headers.get('location')!, { sub: 'grace' });

    const failed = await browser.get(instanceB.app, `${GATEWAY}/callback/corp?${callback}`);
    expect(failed.status).toBe(400);
    const page = await failed.text();
    expect(page).toContain('Your sign-in expired or was not valid');
    expect(page).toContain('Start again');
    expect(await browser.cookie(GATEWAY, '__Host-auth_token')).toBeUndefined();
    expect(instanceB.logs.lines.find((line) => line.error)).toMatchObject({
      error: 'flow_invalid',
      reason: 'flow not found (expired or replayed)',
    });

    // Starting again on B, and finishing there, works.
    const retry = await browser.get(instanceB.app, `${GATEWAY}/login/corp?return_to=https://app.example.com/home`);
    const done = await browser.get(
      instanceB.app,
      `${GATEWAY}/callback/corp?${idp.authorize(retry.headers.get('location')!, { sub: 'grace' })}`,
    );
    expect(done.headers.get('location')).toBe('https://app.example.com/home');
  });
});
