import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MemoryStore } from '../../src/store/memory.js';
import { buildTestApp, ManualClock, memoryStore, type TestApp } from '../support/app.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { pollUntil } from '../support/wait.js';
import { signInAt } from '../support/sign-in.js';

// A session that ends while one of its renewals is under way (its provider refresh in flight)
// stays ended: the renewal does not write its record back (red-team review, issue 10).

const idp = await new MockOidcProvider('https://idp.example.test', { refreshTokens: 'rotating' }).init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://auth.example.com';
const COOKIE = '__Host-auth_token';
const JWT_TTL = 600;

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

let clock: ManualClock;
let store: MemoryStore;
let gateway: TestApp;

beforeEach(async () => {
  clock = new ManualClock();
  store = memoryStore(clock);
  idp.refreshDelayMs = 0;
  gateway = await buildTestApp({
    store,
    clock,
    env: { ...idp.env('corp'), PUBLIC_URL: GATEWAY, JWT_TTL: String(JWT_TTL), PROVIDER_CORP_REFRESH_INTERVAL: '60' },
  });
});

const signIn = (sub = 'ada') => signInAt(gateway, idp, { sub }, { origin: GATEWAY });

const refresh = (token: string) =>
  gateway.app.request(`${GATEWAY}/refresh`, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });

/** A renewal of `token` caught at the provider (its refresh slow), while `end` ends the session. */
async function renewalOvertakenBy(token: string, end: () => Promise<Response>): Promise<Response> {
  clock.advance(61);
  idp.refreshDelayMs = 300;
  const before = idp.refreshRequests;
  const renewal = refresh(token);
  await pollUntil(() => idp.refreshRequests > before, { what: 'the refresh to reach the provider', timeoutMs: 5000, intervalMs: 5 });
  expect((await end()).status).toBe(302);
  return renewal;
}

describe('a session ended during one of its renewals', () => {
  it('regression: a sign-out while a renewal waits on the provider is not undone, even once the revocation expires', async () => {
    const { browser, token, sid } = await signIn();
    const renewal = await renewalOvertakenBy(token, () => browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST' }));
    expect((await renewal).status).toBe(401);
    expect(await store.get(`session:${sid}`)).toBeUndefined();
    // The revocation lives JWT_TTL (and CLOCK_SKEW); after it, only the missing record refuses the stolen cookie.
    clock.advance(JWT_TTL + 60);
    expect((await refresh(token)).status).toBe(401);
    expect((await gateway.app.request(`${GATEWAY}/auth`, { headers: { cookie: `${COOKIE}=${token}` } })).status).toBe(401);
  });

  it('regression: sign out everywhere during a renewal leaves no session of the user behind', async () => {
    const laptop = await signIn();
    const phone = await signIn();
    const renewal = await renewalOvertakenBy(phone.token, () =>
      laptop.browser.request(gateway.app, `${GATEWAY}/logout?everywhere=true`, { method: 'POST' }),
    );
    expect((await renewal).status).toBe(401);
    expect(await store.get(`session:${phone.sid}`)).toBeUndefined();
    clock.advance(JWT_TTL + 60);
    expect((await refresh(phone.token)).status).toBe(401);
  });
});
