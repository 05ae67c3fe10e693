import { once } from 'node:events';
import { Redis } from 'ioredis';
import { decodeJwt } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/parse.js';
import { createLogger } from '../../src/logger.js';
import { connectStore } from '../../src/store/connect.js';
import { issueToken } from '../../src/tokens/issue.js';
import { buildTestApp, LogCapture, TEST_COOKIE_SECRET, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { startRedisServer } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';

// A Redis with maxmemory and an evicting policy (ElastiCache's and Memorystore's default is
// volatile-lru) drops portero's keys when it fills, revocations included. portero refuses to
// serve from such a Redis unless REDIS_ALLOW_EVICTION accepts it; a full noeviction Redis refuses
// writes, which are clean 503s, and loses nothing.

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://gateway.test';
const LIMITED = ['--maxmemory', '2mb'];

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Stack {
  gateway: TestApp;
  /** The operator's redis-cli. */
  operator: Redis;
  /** What the store's connection logged (the eviction check's lines). */
  storeLogs: LogCapture;
}

/** A gateway on the store as src/main.ts connects it, configured by `env`, on a redis-server started with `args`. */
async function stack(args: readonly string[], env: Record<string, string> = {}): Promise<Stack> {
  const redis = await startRedisServer({ args });
  cleanups.push(() => redis.stop());
  const fullEnv = { ...idp.env('corp'), REDIS_URL: redis.url, ...env };
  const storeLogs = new LogCapture();
  const config = parseConfig({ PUBLIC_URL: GATEWAY, COOKIE_SECRET: TEST_COOKIE_SECRET, ...fullEnv });
  const connection = await connectStore(config.redis, createLogger('info', storeLogs));
  cleanups.push(() => connection.close());
  const operator = new Redis(redis.url);
  cleanups.push(async () => operator.disconnect());
  await once(operator, 'ready');
  return { gateway: await buildTestApp({ store: connection.store, env: fullEnv }), operator, storeLogs };
}

const readyz = (gateway: TestApp) => gateway.app.request(`${GATEWAY}/readyz`, { headers: { accept: 'application/json' } });

async function signIn(gateway: TestApp): Promise<{ browser: TestBrowser; token: string }> {
  const browser = new TestBrowser();
  const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
  expect(login.status).toBe(302);
  await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(login.headers.get('location')!, { sub: 'u' })}`);
  return { browser, token: (await browser.cookie(GATEWAY, '__Host-auth_token'))!.value };
}

const auth = (gateway: TestApp, token: string) =>
  gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });

/**
 * A /login flood, in batches, until `enough()` or a batch stores nothing (each answer a 503) or
 * `max` requests: what the answers were, by status.
 */
async function flood(gateway: TestApp, enough: () => Promise<boolean>, max = 40_000): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  for (let sent = 0; sent < max && !(await enough()); sent += 200) {
    const batch = await Promise.all(Array.from({ length: 200 }, () => gateway.app.request(`${GATEWAY}/login/corp`)));
    for (const { status } of batch) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (batch.every(({ status }) => status === 503)) break;
  }
  return statuses;
}

describe('a gateway on a Redis that may evict its keys', () => {
  it('is not ready, and refuses logins with the clean 503 page; the log says what to set', async () => {
    const { gateway, operator, storeLogs } = await stack([...LIMITED, '--maxmemory-policy', 'volatile-lru']);
    const ready = await readyz(gateway);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ error: 'store_unavailable' });

    const login = await new TestBrowser().get(gateway.app, `${GATEWAY}/login/corp`);
    expect(login.status).toBe(503);
    expect(await login.text()).toContain('Sign-in is temporarily unavailable');
    expect(login.headers.getSetCookie()).toEqual([]);
    expect(await operator.dbsize()).toBe(0);

    // The request's line names the reason; the connection said it once, at error level.
    const refused = gateway.logs.lines.find((line) => line.path === '/login/corp');
    expect(refused).toMatchObject({ level: 'error', status: 503, error: 'store_unavailable' });
    expect(String(refused?.reason)).toContain('maxmemory-policy volatile-lru');
    const [line, ...more] = storeLogs.lines.filter((entry) => entry.level === 'error');
    expect(more).toEqual([]);
    expect(String(line?.msg)).toContain('set maxmemory-policy noeviction');
    expect(String(line?.msg)).toContain('REDIS_ALLOW_EVICTION=true');
  });

  it('serves when REDIS_ALLOW_EVICTION=true accepts it', async () => {
    const { gateway } = await stack([...LIMITED, '--maxmemory-policy', 'volatile-lru'], { REDIS_ALLOW_EVICTION: 'true' });
    expect((await readyz(gateway)).status).toBe(200);
    expect((await gateway.app.request(`${GATEWAY}/login/corp`)).status).toBe(302);
  });

  it('serves under maxmemory-policy noeviction', async () => {
    const { gateway } = await stack([...LIMITED, '--maxmemory-policy', 'noeviction']);
    expect((await readyz(gateway)).status).toBe(200);
  });

  // Regression (red team): a /login flood filled a volatile-lru Redis, it evicted the revoked: key,
  // and the signed-out token passed /auth again. Now nothing is served from such a Redis at all.
  it('never lets a signed-out token pass /auth after a /login flood', async () => {
    const { gateway, operator } = await stack([...LIMITED, '--maxmemory-policy', 'volatile-lru']);
    // A token this gateway signed (on another instance, or before Redis was resized), signed out.
    const { token } = await issueToken(gateway.keys, gateway.config.tokens, systemClock, 'corp', { subject: 'u' });
    const browser = new TestBrowser();
    await browser.jar.setCookie(`__Host-auth_token=${token}; Path=/; Secure; HttpOnly`, GATEWAY);
    await browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST' });
    const revocation = `portero:revoked:${decodeJwt(token).sid}`;

    await flood(gateway, async () => (await operator.exists(revocation)) === 0);
    const answer = await auth(gateway, token);
    expect(answer.status).not.toBe(200);
    // This instance remembers its own sign-out; for any other token nothing is served from such a Redis.
    expect(answer.status).toBe(401);
    const other = await issueToken(gateway.keys, gateway.config.tokens, systemClock, 'corp', { subject: 'v' });
    expect((await auth(gateway, other.token)).status).toBe(503);
  });

  it('notices a policy changed at runtime on the next connection, and stops serving /auth and /login', async () => {
    // Logins unlimited: what is under test is a full Redis, not the abuse limit that would stop the flood
    // first. The callback limit stays on: a full Redis cannot count, and must not stop a login in flight.
    const { gateway, operator } = await stack([...LIMITED, '--maxmemory-policy', 'noeviction'], { RATE_LIMIT_LOGIN: 'off' });
    const { browser, token } = await signIn(gateway);
    expect((await browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST' })).status).toBe(302);
    expect((await auth(gateway, token)).status).toBe(401);
    const revocation = `portero:revoked:${decodeJwt(token).sid}`;

    // The operator (or a parameter group) turns eviction on; the next connection sees it.
    await operator.config('SET', 'maxmemory-policy', 'volatile-lru');
    await operator.call('CLIENT', 'KILL', 'TYPE', 'normal');
    await pollUntil(async () => (await readyz(gateway)).status === 503, { what: '/readyz to answer 503', timeoutMs: 5000, intervalMs: 50 });
    // The signed-out token stays out (this instance remembers); any other is not served from the
    // deny-set either once the store refuses (what it would reload may have been evicted).
    expect((await auth(gateway, token)).status).toBe(401);
    const other = await issueToken(gateway.keys, gateway.config.tokens, systemClock, 'corp', { subject: 'v' });
    await pollUntil(async () => (await auth(gateway, other.token)).status === 503, {
      what: '/auth to answer 503',
      timeoutMs: 3000,
      intervalMs: 50,
    });
    expect((await gateway.app.request(`${GATEWAY}/login/corp`)).status).toBe(503);
    expect(await operator.exists(revocation)).toBe(1);
  });
});

describe('a gateway on a full Redis that never evicts', () => {
  it('answers the logins it cannot store with the clean 503 page, and keeps every revocation', async () => {
    // Logins unlimited: what is under test is a full Redis, not the abuse limit that would stop the flood
    // first. The callback limit stays on: a full Redis cannot count, and must not stop a login in flight.
    const { gateway, operator } = await stack([...LIMITED, '--maxmemory-policy', 'noeviction'], { RATE_LIMIT_LOGIN: 'off' });
    const { browser, token } = await signIn(gateway);
    expect((await browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST' })).status).toBe(302);
    const stillIn = await signIn(gateway);
    const early = new TestBrowser();
    const started = await early.get(gateway.app, `${GATEWAY}/login/corp`);

    const statuses = await flood(gateway, async () => false);
    expect(statuses.get(302)).toBeGreaterThan(100); // it filled up
    expect(statuses.get(503)).toBeGreaterThan(0);
    // Topped up from redis-cli until Redis refuses, so no buffer freed after the flood lets one more login in.
    const topUp = async (prefix: string) => {
      for (let i = 0; ; i++) if (!(await operator.set(`${prefix}:${i}`, 'x'.repeat(64)).catch(() => undefined))) break;
    };
    await topUp('filler');
    const full = await new TestBrowser().get(gateway.app, `${GATEWAY}/login/corp`);
    expect(full.status).toBe(503);
    expect(await full.text()).toContain('Sign-in is temporarily unavailable');
    expect(full.headers.getSetCookie()).toEqual([]);
    expect(Number(/^evicted_keys:(\d+)/m.exec(await operator.info('stats'))?.[1])).toBe(0);
    // Reads still work: the signed-out token stays out, and the store answers /readyz.
    expect((await auth(gateway, token)).status).toBe(401);
    expect((await readyz(gateway)).status).toBe(200);
    // A login started before it filled: consuming its flow deletes, which a full Redis allows, and
    // frees a little room, in which its session may or may not fit. Either it completes with a
    // working token, or it gets the clean 503 page and no token cookie, and can start again.
    const callback = `${GATEWAY}/callback/corp?${idp.authorize(started.headers.get('location')!, { sub: 'early' })}`;
    const finished = await early.get(gateway.app, callback);
    const earlyToken = await early.cookie(GATEWAY, '__Host-auth_token');
    if (finished.status === 302) expect((await auth(gateway, earlyToken!.value)).status).toBe(200);
    else {
      expect(finished.status).toBe(503);
      expect(await finished.text()).toContain('Sign-in is temporarily unavailable');
      expect(earlyToken).toBeUndefined();
    }
    // A sign-out it cannot store is a 503 that keeps the cookie, so it can be tried again. The flow
    // that callback deleted freed room a revocation could take: fill it first.
    await topUp('refill');
    const signOut = await stillIn.browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST' });
    expect(signOut.status).toBe(503);
    expect((await stillIn.browser.cookie(GATEWAY, '__Host-auth_token'))?.value).toBe(stillIn.token);
  });
});

describe('what portero keeps in Redis', () => {
  // docs/OPERATIONS.md ("Sizing Redis") states these figures: keep them together.
  it('a login in flight: one flow: key of at most 200 bytes (MEMORY USAGE, key included), for FLOW_TTL', async () => {
    const { gateway, operator } = await stack([], { FLOW_TTL: '600' });
    expect((await gateway.app.request(`${GATEWAY}/login/corp?return_to=${encodeURIComponent(`${GATEWAY}/some/page`)}`)).status).toBe(302);
    const keys = await operator.keys('portero:flow:*');
    expect(keys).toHaveLength(1);
    const bytes = Number(await operator.call('MEMORY', 'USAGE', keys[0]!));
    // Measured 168 (Redis 7.0, jemalloc; a 30-character return address), 552 with the record of version 1.
    expect(bytes).toBeGreaterThan(100);
    expect(bytes).toBeLessThanOrEqual(200);
    expect(await operator.ttl(keys[0]!)).toBeGreaterThan(595);
  });

  it('a session: its record until idle, its grant until SESSION_TTL, a member in its user’s set; about 1.4 KB together', async () => {
    const { gateway, operator } = await stack([], { JWT_TTL: '3600' });
    const { token } = await signIn(gateway);
    const { sid, sub } = decodeJwt(token) as { sid: string; sub: string };
    const keys = [`portero:session:${sid}`, `portero:session-grant:${sid}`, `portero:user-sessions:${sub}`];
    // Beside the rate limits' counters (rl:), these only.
    const kept = (await operator.keys('portero:*')).filter((key) => !key.startsWith('portero:rl:'));
    expect(kept.sort()).toEqual([...keys].sort());
    const bytes = await Promise.all(keys.map(async (key) => Number(await operator.call('MEMORY', 'USAGE', key))));
    const measured = bytes.join(', ');
    // Measured 440, 1000 (most of it the provider's ID token, kept for id_token_hint) and 180.
    expect(bytes[0], measured).toBeLessThan(600);
    expect(bytes[1]).toBeLessThan(1600);
    expect(bytes.reduce((sum, each) => sum + each, 0)).toBeLessThan(2200);
    // SESSION_IDLE_TTL (a day) for the record, SESSION_TTL (a week) for the grant and the user's set.
    expect(await operator.ttl(keys[0]!)).toBeGreaterThan(86_400 - 5);
    expect(await operator.ttl(keys[0]!)).toBeLessThanOrEqual(86_400);
    expect(await operator.ttl(keys[1]!)).toBeGreaterThan(604_800 - 5);
    expect(await operator.ttl(keys[2]!)).toBeGreaterThan(604_800 - 5);
    // This provider gives no refresh token: the grant is the ID token and when it was given.
    expect(Object.keys(JSON.parse((await operator.get(keys[1]!))!))).toEqual(['v', 'idToken', 'refreshedAt']);
  });

  it('a sign-out: one revoked: key of about 120 bytes, for what is left of the token', async () => {
    const { gateway, operator } = await stack([], { JWT_TTL: '3600' });
    const { browser, token } = await signIn(gateway);
    expect(await operator.keys('portero:flow:*')).toEqual([]); // the flow was consumed
    await browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST' });
    const key = `portero:revoked:${decodeJwt(token).sid}`;
    expect(await operator.keys('portero:revoked:*')).toEqual([key]);
    const bytes = Number(await operator.call('MEMORY', 'USAGE', key));
    expect(bytes).toBeGreaterThan(80);
    expect(bytes).toBeLessThan(200);
    expect(await operator.ttl(key)).toBeGreaterThan(3500);
  });

  it('a client address making logins: one rl: counter of about 70 bytes per limit, for its window', async () => {
    const { gateway, operator } = await stack([], { RATE_LIMIT_LOGIN: '120/60s' });
    const peer = { incoming: { socket: { remoteAddress: '203.0.113.5' } } };
    for (let i = 0; i < 3; i++) expect((await gateway.app.request(`${GATEWAY}/login/corp`, {}, peer)).status).toBe(302);
    expect(await operator.keys('portero:rl:*')).toEqual(['portero:rl:login:203.0.113.5']);
    expect(await operator.get('portero:rl:login:203.0.113.5')).toBe('3');
    const bytes = Number(await operator.call('MEMORY', 'USAGE', 'portero:rl:login:203.0.113.5'));
    expect(bytes).toBeGreaterThan(40);
    expect(bytes).toBeLessThan(120);
    expect(await operator.ttl('portero:rl:login:203.0.113.5')).toBeGreaterThan(55);
  });
});
