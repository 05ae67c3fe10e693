import { setupServer } from 'msw/node';
import { IPV6_NETWORK_FACTOR } from '../../src/http/rate-limit.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, fromPeer, type IsolatedRedisStore, memoryStore, type TestApp } from '../support/app.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { redisForThisFile } from '../support/store-under-test.js';

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://gateway.test';

const redis = redisForThisFile();
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

/** Two instances on one Redis (one key prefix), as behind a load balancer. */
async function twoInstances(env: Record<string, string> = {}): Promise<[TestApp, TestApp, IsolatedRedisStore]> {
  const first = await redis.isolated();
  const second = await redis.isolated(first.prefix);
  const config = { ...idp.env('corp'), ...env };
  return [await buildTestApp({ store: first.store, env: config }), await buildTestApp({ store: second.store, env: config }), first];
}

const login = (gateway: TestApp, address: string, headers: Record<string, string> = {}) =>
  gateway.app.request(`${GATEWAY}/login/corp`, { headers }, fromPeer(address));

/** `count` requests at once, in batches of 50 (a script's flood); their statuses, by status. */
async function flood(count: number, send: () => Response | Promise<Response>): Promise<Map<number, Response[]>> {
  const byStatus = new Map<number, Response[]>();
  for (let sent = 0; sent < count; sent += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, count - sent) }, () => send()));
    for (const response of batch) byStatus.set(response.status, [...(byStatus.get(response.status) ?? []), response]);
  }
  return byStatus;
}

const usedMemory = async (store: IsolatedRedisStore) => Number(/used_memory:(\d+)/.exec(await store.raw.info('memory'))?.[1]);

describe('abuse limits, shared by every instance', () => {
  it('refuse a flood of 400 logins from one address on both instances, serve another address, and keep Redis small', async () => {
    const [a, b, redisView] = await twoInstances();
    const before = await usedMemory(redisView);

    const answers = await flood(400, () => login(a, '203.0.113.5'));
    // The default RATE_LIMIT_LOGIN, 120/60s: exactly that many got through, every other one was refused.
    expect(answers.get(302)).toHaveLength(120);
    expect(answers.get(429)).toHaveLength(280);
    expect([...answers.keys()].sort()).toEqual([302, 429]);
    for (const refused of answers.get(429) ?? []) {
      const seconds = Number(refused.headers.get('retry-after'));
      expect(seconds).toBeGreaterThanOrEqual(1);
      expect(seconds).toBeLessThanOrEqual(60);
      expect(refused.headers.getSetCookie()).toEqual([]);
    }

    // The other instance refuses the same address at once: the count is in Redis, not in instance a.
    const elsewhere = await login(b, '203.0.113.5');
    expect(elsewhere.status).toBe(429);
    expect(Number(elsewhere.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another address is served, by both.
    expect((await login(b, '198.51.100.20')).status).toBe(302);
    expect((await login(a, '198.51.100.20')).status).toBe(302);

    // Only the 122 logins that were let through stored a flow; the flood left Redis well under 2 MB larger.
    expect(await redisView.raw.keys(`${redisView.prefix}flow:*`)).toHaveLength(122);
    expect((await usedMemory(redisView)) - before).toBeLessThan(2 * 1024 * 1024);
    const counters = await redisView.raw.keys(`${redisView.prefix}rl:login:*`);
    expect(counters.sort()).toEqual([`${redisView.prefix}rl:login:198.51.100.20`, `${redisView.prefix}rl:login:203.0.113.5`]);
    expect(await redisView.raw.ttl(counters[0] as string)).toBeGreaterThan(0);
  });

  it('let an office behind one NAT address sign in: 100 logins within a minute all pass', async () => {
    const [a, b] = await twoInstances();
    const answers = await flood(100, () => login(Math.random() < 0.5 ? a : b, '192.0.2.44'));
    expect([...answers.keys()]).toEqual([302]);
  });

  it('answer a refusal as a page with a way back, or as JSON, with Retry-After in seconds', async () => {
    const [a] = await twoInstances({ RATE_LIMIT_LOGIN: '2/30s' });
    await login(a, '203.0.113.9');
    await login(a, '203.0.113.9');
    const page = await login(a, '203.0.113.9');
    expect(page.status).toBe(429);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('Too many attempts');
    expect(html).toContain(`href="/">Start again</a>`);
    const retry = Number(page.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(30);

    const json = await login(a, '203.0.113.9', { accept: 'application/json' });
    expect(json.status).toBe(429);
    expect(await json.json()).toMatchObject({ error: 'rate_limited' });
    const logged = a.logs.lines.filter((line) => line.error === 'rate_limited');
    expect(logged.at(-1)).toMatchObject({ level: 'warn', status: 429, limit: 'login', client: '203.0.113.9' });
  });

  it('limit callbacks too, by RATE_LIMIT_CALLBACK', async () => {
    const [a] = await twoInstances({ RATE_LIMIT_CALLBACK: '3/60s' });
    const callback = () => a.app.request(`${GATEWAY}/callback/corp?state=x&code=y`, {}, fromPeer('203.0.113.77'));
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await callback()).status);
    // The first three are refused for what they are (no flow cookie); the rest are not even read.
    expect(statuses).toEqual([400, 400, 400, 429, 429]);
  });

  it('never limit /auth nor the JWKS, which a proxy calls for every request of every user', async () => {
    const [a] = await twoInstances({ RATE_LIMIT_LOGIN: '1/60s', RATE_LIMIT_CALLBACK: '1/60s' });
    const auth = await flood(300, () => a.app.request(`${GATEWAY}/auth`, {}, fromPeer('10.1.1.1')));
    expect([...auth.keys()]).toEqual([401]);
    const jwks = await flood(300, () => a.app.request(`${GATEWAY}/.well-known/jwks.json`, {}, fromPeer('10.1.1.1')));
    expect([...jwks.keys()]).toEqual([200]);
  });

  it('can each be turned off ("off"), for a deployment whose CDN limits already', async () => {
    const gateway = await buildTestApp({ store: memoryStore(), env: { ...idp.env('corp'), RATE_LIMIT_LOGIN: 'off' } });
    const answers = await flood(400, () => login(gateway, '203.0.113.5'));
    expect([...answers.keys()]).toEqual([302]);
  });

  it('count each client behind a trusted proxy apart, and everyone behind an untrusted one together', async () => {
    const viaProxy = (gateway: TestApp, client: string) => login(gateway, '10.0.0.2', { 'x-forwarded-for': client });
    const [trusting] = await twoInstances({ RATE_LIMIT_LOGIN: '2/60s', TRUSTED_PROXIES: '10.0.0.0/8' });
    for (const client of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) {
      expect((await viaProxy(trusting, client)).status).toBe(302);
      expect((await viaProxy(trusting, client)).status).toBe(302);
    }
    expect((await viaProxy(trusting, '192.0.2.1')).status).toBe(429);

    // Without TRUSTED_PROXIES the proxy's own address is the client: its users share one limit.
    const [unaware] = await twoInstances({ RATE_LIMIT_LOGIN: '2/60s' });
    const statuses = [];
    for (const client of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) statuses.push((await viaProxy(unaware, client)).status);
    expect(statuses).toEqual([302, 302, 429]);
  });

  it('count an IPv6 site by its /48 too, so many /64s of one attacker cannot fill the store', async () => {
    // Red team: 256 /64s of one /56, each with its own allowance, stored 1,280 flows for a 5/60s limit.
    const [a, , redisView] = await twoInstances({ RATE_LIMIT_LOGIN: '5/60s' });
    const answers = await flood(
      256 * 5,
      (() => {
        let sent = 0;
        return () => {
          const network = Math.floor(sent / 5).toString(16);
          return login(a, `2001:db8:77:${network}::${(sent++ % 5) + 1}`);
        };
      })(),
    );
    // 16 times one address's allowance for the whole /48, then refusals with Retry-After.
    expect(answers.get(302)).toHaveLength(5 * IPV6_NETWORK_FACTOR);
    expect(Number(answers.get(429)?.[0]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await redisView.raw.keys(`${redisView.prefix}flow:*`)).toHaveLength(5 * IPV6_NETWORK_FACTOR);
    // Another /48 is served.
    expect((await login(a, '2001:db8:78::1')).status).toBe(302);
  });

  it('count an IPv6 client by its /64: another address in the same /64 shares its limit', async () => {
    const [a] = await twoInstances({ RATE_LIMIT_LOGIN: '1/60s' });
    expect((await login(a, '2001:db8:1:2::10')).status).toBe(302);
    expect((await login(a, '2001:db8:1:2:abcd::99')).status).toBe(429);
    expect((await login(a, '2001:db8:1:3::10')).status).toBe(302);
  });
});
