import { decodeJwt } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ephemeralKeySet } from '../../src/tokens/keys.js';
import {
  buildTestApp,
  type IsolatedRedisStore,
  isolatedRedisStore,
  ManualClock,
  TEST_COOKIE_SECRET,
  type TestApp,
} from '../support/app.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { testRedis } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';
import { signInAt } from '../support/sign-in.js';

// Renewal that asks the provider: a refresh token (rotated at each use, as Okta and Auth0 do),
// PROVIDER_<ID>_REFRESH_INTERVAL, one call for many renewals on two instances, and a user disabled
// at the provider signed out, on both instances, on a real Redis.

const idp = await new MockOidcProvider('https://idp.example.test', { refreshTokens: 'rotating' }).init();
const msw = setupServer(...idp.handlers());
const redis = await testRedis();
const GATEWAY = 'https://gateway.test';
const _COOKIE = '__Host-auth_token';
const env = { ...idp.env('corp'), PROVIDER_CORP_REFRESH_INTERVAL: '60', JWT_TTL: '600' };

let clock: ManualClock;
const opened: IsolatedRedisStore[] = [];
let first: IsolatedRedisStore;
let a: TestApp;
let b: TestApp;

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(async () => {
  msw.close();
  await redis.stop();
});
beforeEach(async () => {
  clock = new ManualClock();
  const keys = await ephemeralKeySet('ES256');
  first = await isolatedRedisStore(redis.url, undefined, clock);
  const second = await isolatedRedisStore(redis.url, first.prefix, clock);
  opened.push(first, second);
  a = await buildTestApp({ store: first.store, keys, clock, env });
  b = await buildTestApp({ store: second.store, keys, clock, env });
  idp.refreshDelayMs = 0;
  idp.tokenError = undefined;
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

const signIn = (gateway: TestApp, sub = 'ada') => signInAt(gateway, idp, { sub }, { origin: GATEWAY });

const refresh = (gateway: TestApp, token: string) =>
  gateway.app.request(`${GATEWAY}/refresh`, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });

async function refreshed(gateway: TestApp, token: string): Promise<string> {
  const answer = await refresh(gateway, token);
  expect(answer.status).toBe(200);
  return ((await answer.json()) as { token: string }).token;
}

const grantOf = async (sid: string) => JSON.parse((await first.raw.get(`${first.prefix}session-grant:${sid}`))!);

describe('renewal with a refresh token', () => {
  it('asks the provider once REFRESH_INTERVAL has passed, not before, and keeps its rotated token sealed in Redis', async () => {
    const { token, sid } = await signIn(a);
    const atSignIn = await grantOf(sid);
    // Sealed: no refresh token the provider issued is in Redis as it is.
    const dump = JSON.stringify(await first.raw.mget(await first.raw.keys(`${first.prefix}*`)));
    expect(idp.refreshTokensIssued.length).toBeGreaterThan(0);
    for (const issued of idp.refreshTokensIssued) expect(dump).not.toContain(issued);
    expect(atSignIn.refreshToken).toMatch(/^v1\.[0-9a-f]{8}\./);

    const before = idp.refreshRequests;
    clock.advance(30);
    const soon = await refreshed(a, token);
    expect(idp.refreshRequests).toBe(before);
    clock.advance(31);
    const due = await refresh(b, soon);
    expect(due.status).toBe(200);
    expect(idp.refreshRequests).toBe(before + 1);
    const afterRefresh = await grantOf(sid);
    expect(afterRefresh.refreshedAt).toBe(clock.now());
    expect(afterRefresh.refreshToken).not.toBe(atSignIn.refreshToken);
    expect(b.logs.lines.find((line) => line.event === 'token_renewed')).toMatchObject({ via: 'refresh', refreshed: 'true', sid });
    // The rotated token is the one used next: the provider ended the first one.
    clock.advance(61);
    expect((await refresh(a, ((await due.json()) as { token: string }).token)).status).toBe(200);
    expect(idp.refreshRequests).toBe(before + 2);
  });

  it('makes one provider call for ten concurrent renewals of one session on two instances, and leaves no lock', async () => {
    const { token, sid } = await signIn(a);
    clock.advance(61);
    idp.refreshDelayMs = 300;
    const before = idp.refreshRequests;
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => refresh(i % 2 === 0 ? a : b, token)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    expect(idp.refreshRequests - before).toBe(1);
    expect(await first.raw.exists(`${first.prefix}session-lock:${sid}`)).toBe(0);
    // Each renewal a token of the session, the provider's confirmation stored once.
    const tokens = await Promise.all(answers.map(async (answer) => decodeJwt(((await answer.json()) as { token: string }).token)));
    expect(new Set(tokens.map((claims) => claims.sid))).toEqual(new Set([sid]));
    expect((await grantOf(sid)).refreshedAt).toBe(clock.now());
  });

  it('never waits on a lock an instance left behind when it crashed: renews without asking, and asks once the lock expired', async () => {
    const { token, sid } = await signIn(a);
    clock.advance(61);
    // What an instance that crashed mid-refresh leaves: its lock, with the TTL it had left (1 s here).
    await first.raw.set(`${first.prefix}session-lock:${sid}`, 'crashed-instance', 'EX', 1);
    const before = idp.refreshRequests;
    expect((await refresh(b, token)).status).toBe(200);
    expect(idp.refreshRequests).toBe(before);
    await pollUntil(async () => (await first.raw.exists(`${first.prefix}session-lock:${sid}`)) === 0, {
      what: 'the left-behind lock to expire',
      timeoutMs: 3000,
      intervalMs: 50,
    });
    expect((await refresh(b, token)).status).toBe(200);
    expect(idp.refreshRequests).toBe(before + 1);
  });

  it('signs out a user disabled at the provider at the next renewal after the interval, refused on the other instance too', async () => {
    const { token, sid } = await signIn(a);
    const other = await signIn(a, 'bob');
    idp.disableUser('ada');
    clock.advance(61);
    const refused = await refresh(a, token);
    expect(refused.status).toBe(401);
    expect(a.logs.lines.find((line) => line.event === 'session_ended')).toMatchObject({ reason: 'invalid_grant', sid, sub: 'corp:ada' });
    expect(await first.raw.exists(`${first.prefix}session:${sid}`, `${first.prefix}session-grant:${sid}`)).toBe(0);
    // The token is still within its JWT_TTL, and refused everywhere all the same.
    await pollUntil(
      async () => (await b.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } })).status === 401,
      {
        what: 'instance B to refuse the token of the session the provider ended',
        timeoutMs: 3000,
        intervalMs: 20,
      },
    );
    expect((await refresh(b, other.token)).status).toBe(200);
  });

  it('keeps the session when the provider cannot answer, renewing nothing until it can', async () => {
    const { token } = await signIn(a);
    clock.advance(61);
    idp.tokenError = { status: 503, body: { error: 'temporarily_unavailable' } };
    const failed = await refresh(a, token);
    expect(failed.status).toBe(502);
    expect(await failed.json()).toMatchObject({ error: 'token_exchange_failed' });
    expect((await a.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    idp.tokenError = undefined;
    expect((await refresh(a, token)).status).toBe(200);
  });

  it('opens a refresh token sealed under the previous COOKIE_SECRET, or before a SESSION_KEY was set', async () => {
    const NEW_SECRET = 'a-new-cookie-secret-0123456789-abcdefghij';
    const { token } = await signIn(a);
    clock.advance(61);
    const rotated = await buildTestApp({
      store: first.store,
      keys: a.keys,
      clock,
      env: { ...env, COOKIE_SECRET: NEW_SECRET, COOKIE_SECRET_PREVIOUS: TEST_COOKIE_SECRET },
    });
    const before = idp.refreshRequests;
    const next = await refreshed(rotated, token);
    expect(idp.refreshRequests).toBe(before + 1);
    // Then a SESSION_KEY beside that COOKIE_SECRET: what the secret sealed still opens.
    clock.advance(61);
    const keyed = await buildTestApp({
      store: first.store,
      keys: a.keys,
      clock,
      env: { ...env, COOKIE_SECRET: NEW_SECRET, SESSION_KEY: 'a-session-key-0123456789-abcdefghijklmn' },
    });
    expect((await refresh(keyed, next)).status).toBe(200);
    expect(idp.refreshRequests).toBe(before + 2);
  });
});
