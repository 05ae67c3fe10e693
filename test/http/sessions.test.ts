import { decodeJwt } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MemoryStore } from '../../src/store/memory.js';
import { buildTestApp, ManualClock, memoryStore, type TestApp } from '../support/app.js';
import { setCookieLines } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { signInAt } from '../support/sign-in.js';

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://auth.example.com';
const COOKIE = '__Host-auth_token';
const HOUR = 3600;
const DAY = 24 * HOUR;

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

let clock: ManualClock;
let store: MemoryStore;
let gateway: TestApp;

async function gatewayWith(env: Record<string, string> = {}) {
  gateway = await buildTestApp({
    store,
    clock,
    env: { ...idp.env('corp'), PUBLIC_URL: GATEWAY, JWT_TTL: String(HOUR), ALLOWED_REDIRECTS: 'https://app.example.com', ...env },
  });
}

beforeEach(async () => {
  clock = new ManualClock();
  store = memoryStore(clock);
  await gatewayWith();
});

const signIn = (sub = 'ada') => signInAt(gateway, idp, { sub }, { origin: GATEWAY });

/** POST /refresh as an API client: the token as a bearer. */
const refresh = (token: string) =>
  gateway.app.request(`${GATEWAY}/refresh`, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });

const authWithCookie = (token: string) => gateway.app.request(`${GATEWAY}/auth`, { headers: { cookie: `${COOKIE}=${token}` } });

describe('a session in the store', () => {
  it('is written at sign-in with who, since when, its limits and the upstream ids, living until it falls idle', async () => {
    const { token } = await signIn();
    const { sid, sub } = decodeJwt(token) as { sid: string; sub: string };
    const record = JSON.parse((await store.get(`session:${sid}`))!);
    expect(record).toMatchObject({
      sid,
      sub: 'corp:ada',
      provider: 'corp',
      created: clock.now(),
      lastSeen: clock.now(),
      expiresAt: clock.now() + 7 * DAY * 1000,
      upstream: { sub: 'ada' },
    });
    expect(await store.members(`user-sessions:${sub}`)).toEqual([`${clock.now()}.${sid}`]);
    // The ID token is kept for id_token_hint; no refresh token was given.
    const grant = JSON.parse((await store.get(`session-grant:${sid}`))!);
    expect(grant).toEqual({ v: 1, idToken: expect.any(String), refreshedAt: clock.now() });
    // Forgotten once idle (SESSION_IDLE_TTL, a day, without a renewal); the grant lives to SESSION_TTL.
    clock.advance(DAY - 1);
    expect(await store.get(`session:${sid}`)).toBeDefined();
    clock.advance(1);
    expect(await store.get(`session:${sid}`)).toBeUndefined();
    expect(await store.get(`session-grant:${sid}`)).toBeDefined();
  });
});

describe('POST /refresh', () => {
  it('answers a new token of the same session, as JSON and in the cookie, and starts the idle limit again', async () => {
    const { token } = await signIn();
    clock.advance(HOUR / 2);
    const answer = await refresh(token);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    const body = (await answer.json()) as { token: string; token_type: string; expires_in: number };
    expect(body).toEqual({ token: expect.any(String), token_type: 'Bearer', expires_in: HOUR });
    const [before, after] = [decodeJwt(token), decodeJwt(body.token)];
    expect(after).toMatchObject({
      sub: before.sub,
      sid: before.sid,
      iat: Number(before.iat) + HOUR / 2,
      exp: Number(before.iat) + HOUR * 1.5,
    });
    expect(after.jti).not.toBe(before.jti);
    expect(setCookieLines(answer).get(COOKIE)).toMatch(
      new RegExp(`^${COOKIE}=${body.token}; Max-Age=${7 * DAY - HOUR / 2}; Path=/; HttpOnly; Secure; SameSite=Lax`),
    );
    expect((await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${body.token}` } })).status).toBe(200);
    expect(JSON.parse((await store.get(`session:${before.sid}`))!).lastSeen).toBe(clock.now());
    expect((await gateway.metrics.scrape()).body).toContain('portero_tokens_renewed_total{provider="corp",via="refresh"} 1');
    clock.advance(DAY - 1);
    expect(await store.get(`session:${before.sid}`)).toBeDefined();
  });

  it('renews an expired token while its session lives, and refuses once it fell idle (SESSION_IDLE_TTL)', async () => {
    const { token } = await signIn();
    clock.advance(DAY - 1);
    const renewed = await refresh(token);
    expect(renewed.status).toBe(200);
    const { token: next } = (await renewed.json()) as { token: string };
    clock.advance(DAY);
    const idle = await refresh(next);
    expect(idle.status).toBe(401);
    expect(await idle.json()).toMatchObject({ error: 'unauthenticated' });
    expect(gateway.logs.lines.find((line) => line.path === '/refresh' && line.status === 401)).toMatchObject({
      reason: 'session ended (expired, idle or signed out)',
    });
  });

  it('stops at SESSION_TTL however active, and no token of the session outlives it', async () => {
    await gatewayWith({ SESSION_TTL: String(3 * HOUR), SESSION_IDLE_TTL: String(HOUR) });
    let { token } = await signIn();
    for (let elapsed = 0; elapsed < 2.5 * HOUR; elapsed += HOUR / 2) {
      clock.advance(HOUR / 2);
      const answer = await refresh(token);
      expect(answer.status).toBe(200);
      ({ token } = (await answer.json()) as { token: string });
    }
    // Half an hour before the session's end: the token is cut to it.
    expect(Number(decodeJwt(token).exp) - Math.floor(clock.now() / 1000)).toBe(HOUR / 2);
    // Past the session's end (and the CLOCK_SKEW of 30 s its token is allowed), nothing renews it.
    clock.advance(HOUR / 2 + 31);
    expect((await refresh(token)).status).toBe(401);
    expect((await authWithCookie(token)).status).toBe(401);
  });

  it('refuses a cookie from a page of another site (so it cannot keep a session alive), and a request with no token', async () => {
    const { browser } = await signIn();
    const crossSite = await browser.request(gateway.app, `${GATEWAY}/refresh`, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', accept: 'application/json' },
    });
    expect(crossSite.status).toBe(403);
    expect(await crossSite.json()).toMatchObject({ error: 'cross_site_request' });
    expect(setCookieLines(crossSite).get(COOKIE)).toBeUndefined();
    const allowed = await browser.request(gateway.app, `${GATEWAY}/refresh`, {
      method: 'POST',
      headers: { origin: 'https://app.example.com', 'sec-fetch-site': 'same-site', accept: 'application/json' },
    });
    expect(allowed.status).toBe(200);
    expect((await gateway.app.request(`${GATEWAY}/refresh`, { method: 'POST', headers: { accept: 'application/json' } })).status).toBe(401);
  });

  it('is limited per client address (RATE_LIMIT_REFRESH): a flood gets 429 with Retry-After, and is counted', async () => {
    await gatewayWith({ RATE_LIMIT_REFRESH: '3/60s' });
    const { token } = await signIn();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await refresh(token)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const refused = await refresh(token);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(gateway.logs.lines.find((line) => line.event === 'rate_limited')).toMatchObject({ limit: 'refresh' });
    expect((await gateway.metrics.scrape()).body).toContain('portero_rate_limited_total{limit="refresh"} 3');
  });

  it('refuses a token that portero did not sign, or that it signed for a session since signed out', async () => {
    const { browser, token } = await signIn();
    const [h, p, s] = token.split('.');
    expect((await refresh(`${h}.${p}.${s!.slice(0, -4)}AAAA`)).status).toBe(401);
    await browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST' });
    expect((await refresh(token)).status).toBe(401);
    clock.advance(2 * HOUR);
    expect((await refresh(token)).status).toBe(401);
  });
});

describe('GET /auth renews the cookie in passing', () => {
  it('leaves a fresh token as it is, and renews one past half its life in Set-Cookie, with the new token for the app', async () => {
    const { token } = await signIn();
    const fresh = await authWithCookie(token);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.getSetCookie()).toEqual([]);
    clock.advance(HOUR / 2 + 1);
    const renewing = await authWithCookie(token);
    expect(renewing.status).toBe(200);
    const renewed = setCookieLines(renewing).get(COOKIE)!;
    const next = renewed.slice(COOKIE.length + 1, renewed.indexOf(';'));
    expect(decodeJwt(next)).toMatchObject({ sid: decodeJwt(token).sid, exp: Math.floor(clock.now() / 1000) + HOUR });
    expect(renewing.headers.get('x-auth-request-token')).toBe(next);
    expect(gateway.logs.lines.find((line) => line.event === 'token_renewed')).toMatchObject({
      sub: 'corp:ada',
      sid: decodeJwt(token).sid,
      via: 'auth',
      refreshed: 'false',
    });
  });

  it('lets an expired cookie through while its session lives, renewed, and hands out that renewal again to the page’s other requests', async () => {
    const { token } = await signIn();
    clock.advance(2 * HOUR);
    const answers = await Promise.all(Array.from({ length: 5 }, () => authWithCookie(token)));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    const tokens = new Set(answers.map((answer) => answer.headers.get('x-auth-request-token')));
    expect(tokens.size).toBe(1);
    expect(tokens.has(token)).toBe(false);
  });

  it('never renews a bearer token (an API client asks POST /refresh), and refuses an expired one', async () => {
    const { token } = await signIn();
    clock.advance(HOUR / 2 + 1);
    const bearer = await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } });
    expect(bearer.status).toBe(200);
    expect(bearer.headers.getSetCookie()).toEqual([]);
    clock.advance(HOUR);
    expect((await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it('refuses an expired cookie of a session signed out, or ended since by the idle limit', async () => {
    const first = await signIn('ada');
    const second = await signIn('bob');
    await first.browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST' });
    clock.advance(2 * HOUR);
    expect((await authWithCookie(first.token)).status).toBe(401);
    expect((await authWithCookie(second.token)).status).toBe(200);
    clock.advance(2 * DAY);
    expect((await authWithCookie(second.token)).status).toBe(401);
  });
});

describe('SESSIONS_PER_USER', () => {
  it('ends the oldest of a user’s sessions when a sign-in would pass the cap, and says so', async () => {
    await gatewayWith({ SESSIONS_PER_USER: '2' });
    const oldest = await signIn();
    clock.advance(1);
    const middle = await signIn();
    clock.advance(1);
    const newest = await signIn();
    expect((await authWithCookie(oldest.token)).status).toBe(401);
    expect((await authWithCookie(middle.token)).status).toBe(200);
    expect((await authWithCookie(newest.token)).status).toBe(200);
    expect(await store.get(`session:${decodeJwt(oldest.token).sid}`)).toBeUndefined();
    expect(await store.members('user-sessions:corp:ada')).toHaveLength(2);
    expect(gateway.logs.lines.find((line) => line.event === 'session_ended')).toMatchObject({
      reason: 'capped',
      sid: decodeJwt(oldest.token).sid,
    });
    // Another user's sessions are no one else's count.
    await signIn('bob');
    expect((await authWithCookie(middle.token)).status).toBe(200);
  });
});

describe('sign out everywhere', () => {
  it('POST /logout?everywhere=true ends every session of the user, and only theirs', async () => {
    const laptop = await signIn('ada');
    const phone = await signIn('ada');
    const someoneElse = await signIn('bob');
    const out = await laptop.browser.request(gateway.app, `${GATEWAY}/logout?everywhere=true`, { method: 'POST' });
    expect(out.status).toBe(302);
    for (const token of [laptop.token, phone.token]) {
      expect((await authWithCookie(token)).status).toBe(401);
      expect((await refresh(token)).status).toBe(401);
    }
    expect((await authWithCookie(someoneElse.token)).status).toBe(200);
    const ended = gateway.logs.lines.filter((line) => line.event === 'session_ended');
    expect(ended.map((line) => line.reason)).toEqual(['everywhere', 'everywhere']);
    expect(await store.members('user-sessions:corp:ada')).toEqual([]);
    // And counted, by kind.
    expect((await gateway.metrics.scrape()).body).toContain('portero_sessions_ended_total{kind="everywhere"} 2');
  });

  it('is a button on the signed-in page, beside Sign out', async () => {
    const { browser } = await signIn();
    const page = await (await browser.get(gateway.app, `${GATEWAY}/`)).text();
    expect(page).toContain(
      '<form method="post" action="/logout?everywhere=true"><button class="button centered" type="submit">Sign out everywhere</button></form>',
    );
    expect(page).toContain('<form method="post" action="/logout"><button class="button primary" type="submit">Sign out</button></form>');
  });
});
