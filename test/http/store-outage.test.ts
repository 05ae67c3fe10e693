import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createRedisClient } from '../../src/store/redis-client.js';
import { RedisStore } from '../../src/store/redis.js';
import { buildTestApp, LogCapture, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://gateway.test';

let redis: RedisServer;
let client: ReturnType<typeof createRedisClient>;
let gateway: TestApp;
const redisLogs = new LogCapture();

beforeAll(async () => {
  msw.listen({ onUnhandledRequest: 'error' });
  redis = await startRedisServer();
  // The client exactly as src/main.ts builds it.
  client = createRedisClient(redis.url, createLogger('info', redisLogs));
  await new Promise((resolve) => client.once('ready', resolve));
  gateway = await buildTestApp({ store: new RedisStore(client), env: idp.env('corp') });
});
afterAll(async () => {
  msw.close();
  await gateway.store.close();
  client.disconnect();
  await redis.stop();
});

const ready = async () => (await gateway.app.request(`${GATEWAY}/readyz`)).status === 200;
/** /readyz answers 200 again: the gateway has recovered by itself. */
const recovered = () => pollUntil(ready, { what: '/readyz to answer 200 again', timeoutMs: 10_000, intervalMs: 100 });

describe('when Redis goes away', () => {
  it('answers 503 (page or JSON), keeps /healthz alive, and recovers by itself when Redis returns', async () => {
    expect(await ready()).toBe(true);
    await redis.kill();

    const browser = new TestBrowser();
    const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
    expect(login.status).toBe(503);
    expect(await login.text()).toContain('Sign-in is temporarily unavailable');
    expect(login.headers.getSetCookie()).toEqual([]);
    const json = await gateway.app.request(`${GATEWAY}/readyz`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(503);
    expect(await json.json()).toMatchObject({ error: 'store_unavailable' });
    // A probe or curl that names no type (or */*) gets JSON too; a browser, which asks for HTML, the page.
    for (const accept of [undefined, '*/*']) {
      const probe = await gateway.app.request(`${GATEWAY}/readyz`, accept ? { headers: { accept } } : {});
      expect(probe.headers.get('content-type'), String(accept)).toMatch(/^application\/json/);
      expect(await probe.json()).toMatchObject({ error: 'store_unavailable' });
    }
    const page = await browser.get(gateway.app, `${GATEWAY}/readyz`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect((await gateway.app.request(`${GATEWAY}/healthz`)).status).toBe(200);
    expect(gateway.logs.lines.find((line) => line.error === 'store_unavailable')).toMatchObject({ level: 'error', status: 503 });
    const unreachable = () => redisLogs.lines.some((line) => line.msg === 'redis unreachable');
    await pollUntil(unreachable, { what: 'the log line "redis unreachable"', timeoutMs: 10_000, intervalMs: 100 });

    await redis.restart();
    await recovered();
    const again = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
    const done = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(again.headers.get('location')!, { sub: 'u' })}`);
    expect(done.status).toBe(302);
    expect(await browser.cookie(GATEWAY, '__Host-auth_token')).toBeDefined();
    // Reconnect attempts were many; the log tells the story in two lines.
    expect(redisLogs.lines.filter((line) => line.msg === 'redis unreachable')).toHaveLength(1);
    expect(redisLogs.lines.filter((line) => line.msg === 'redis reachable again')).toHaveLength(1);
  });

  it('a signed-in user is told the service is unavailable, not shown the sign-in page', async () => {
    const browser = new TestBrowser();
    const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
    await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(login.headers.get('location')!, { sub: 'u' })}`);
    expect(await (await browser.get(gateway.app, `${GATEWAY}/`)).text()).toContain('Signed in as');
    await redis.kill();
    try {
      const home = await browser.get(gateway.app, `${GATEWAY}/`);
      expect(home.status).toBe(503);
      expect(await home.text()).toContain('Sign-in is temporarily unavailable');
    } finally {
      await redis.restart();
      await recovered();
    }
  });

  it('a sign-out while Redis is away is a 503 that keeps the cookie, so the user can sign out again once it is back', async () => {
    const browser = new TestBrowser();
    const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
    await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(login.headers.get('location')!, { sub: 'u' })}`);
    const token = (await browser.cookie(GATEWAY, '__Host-auth_token'))!.value;
    await redis.kill();
    try {
      const refused = await browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST' });
      expect(refused.status).toBe(503);
      expect(refused.headers.getSetCookie().filter((line) => line.startsWith('__Host-auth_token='))).toEqual([]);
      expect((await browser.cookie(GATEWAY, '__Host-auth_token'))?.value).toBe(token);
    } finally {
      await redis.restart();
      await recovered();
    }
    const signedOut = await browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST' });
    expect(signedOut.status).toBe(302);
    expect(await browser.cookie(GATEWAY, '__Host-auth_token')).toBeUndefined();
    expect((await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it('a paused Redis gives 503 within seconds instead of hanging the request', async () => {
    const browser = new TestBrowser();
    const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
    redis.pause();
    try {
      const started = Date.now();
      const callback = await browser.get(
        gateway.app,
        `${GATEWAY}/callback/corp?${idp.authorize(login.headers.get('location')!, { sub: 'u' })}`,
      );
      expect(callback.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(5000);
      const auth = await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: 'Bearer not-even-a-jwt' } });
      expect(auth.status).toBe(401); // a malformed token never reaches the store
    } finally {
      redis.resume();
    }
    await recovered();
  });
});
