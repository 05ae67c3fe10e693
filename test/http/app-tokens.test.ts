import { decodeJwt } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PorteroClaims } from '../../src/shared/claims.js';
import type { KeySet } from '../../src/tokens/keys.js';
import { buildTestApp, ManualClock, memoryStore, type TestApp } from '../support/app.js';
import { appTokens as appTokensOf, appsKeySet, signedByTheProvider } from '../support/app-tokens.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { signInAt } from '../support/sign-in.js';

// RFC 8725 3.11, cross-JWT confusion. portero's OpenID Provider (issue 11) gives its apps ID tokens
// and access tokens signed with the keys of JWT_KEYS, with portero's `iss` (PUBLIC_URL), the same
// `sub` and `sid` as the user's portero token, and `typ: JWT` (the ID token); they name the app in
// `aud`, and an access token is typed `at+jwt`. None of them is portero's own token: every route
// that takes portero's token (/auth, /auth/redirect, /userinfo, /refresh, /logout) refuses them,
// whichever key of the set signed them, and still takes portero's own.

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://auth.example.com';
const COOKIE = '__Host-auth_token';

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

let clock: ManualClock;
let keys: KeySet;
let gateway: TestApp;

async function gatewayWith(env: Record<string, string> = {}) {
  gateway = await buildTestApp({ store: memoryStore(clock), clock, keys, env: { ...idp.env('corp'), PUBLIC_URL: GATEWAY, ...env } });
}

beforeEach(async () => {
  clock = new ManualClock();
  keys = await appsKeySet();
  await gatewayWith();
});

/** The tokens an app holds for the user of `own` (portero's token): what it could present to portero instead. */
const appTokens = (own: PorteroClaims, aud?: string | string[]) =>
  appTokensOf(keys, own, { now: Math.floor(clock.now() / 1000), ...(aud ? { aud } : {}) });

async function signedIn() {
  const { token } = await signInAt(gateway, idp, { sub: 'ada' }, { origin: GATEWAY });
  return { token, claims: decodeJwt(token) as PorteroClaims };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const cookie = (token: string) => ({ cookie: `${COOKIE}=${token}` });
const get = (path: string, headers: Record<string, string>) => gateway.app.request(`${GATEWAY}${path}`, { headers });

describe("an app's tokens at portero's own routes", () => {
  it("/auth answers 401 to each, as bearer and as the cookie, and 200 to portero's own token", async () => {
    const own = await signedIn();
    for (const [what, token] of Object.entries(await appTokens(own.claims))) {
      expect((await get('/auth', bearer(token))).status, `${what} as bearer`).toBe(401);
      expect((await get('/auth', cookie(token))).status, `${what} as the cookie`).toBe(401);
    }
    const passed = await get('/auth', cookie(own.token));
    expect(passed.status).toBe(200);
    expect(passed.headers.get('x-auth-request-user')).toBe('corp:ada');
    expect((await get('/auth', bearer(own.token))).status).toBe(200);
  });

  it("/auth refuses an app's token beside portero's cookie rather than ignore it: the app behind could take it for someone", async () => {
    const own = await signedIn();
    const tokens = await appTokens(own.claims);
    for (const [what, token] of Object.entries(tokens)) {
      expect((await get('/auth', { ...cookie(own.token), ...bearer(token) })).status, what).toBe(401);
    }
    // Logged as the refusal of a token with an audience, not as no token.
    const refusals = gateway.logs.lines.filter((line) => line.path === '/auth' && line.status === 401);
    expect(refusals.at(-1)).toMatchObject({ reason: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
  });

  it('/auth/redirect sends the holder of an app token to sign in', async () => {
    const own = await signedIn();
    for (const [what, token] of Object.entries(await appTokens(own.claims))) {
      const response = await get('/auth/redirect', cookie(token));
      expect(response.status, what).toBe(302);
      expect(response.headers.get('location'), what).toBe(`${GATEWAY}/`);
    }
    expect((await get('/auth/redirect', cookie(own.token))).status).toBe(200);
  });

  it("/userinfo answers 401 to each, and portero's own token's claims to it", async () => {
    const own = await signedIn();
    for (const [what, token] of Object.entries(await appTokens(own.claims))) {
      const response = await get('/userinfo', bearer(token));
      expect(response.status, what).toBe(401);
      expect(await response.text(), what).not.toContain('corp:ada');
    }
    const mine = await get('/userinfo', bearer(own.token));
    expect(await mine.json()).toMatchObject({ sub: 'corp:ada', sid: own.claims.sid });
  });

  it('/refresh gives no portero token for one, fresh or expired: an app cannot trade its ID token for the forward-auth token', async () => {
    const own = await signedIn();
    const refresh = (token: string) =>
      gateway.app.request(`${GATEWAY}/refresh`, { method: 'POST', headers: { ...bearer(token), accept: 'application/json' } });
    const fresh = await appTokens(own.claims);
    clock.advance(2 * 3600);
    const expired = await signedByTheProvider(keys, { ...decodeJwt(fresh['an ID token (RS256, the key for the apps)']) }, 'JWT');
    for (const [what, token] of Object.entries({ ...fresh, 'an expired ID token': expired })) {
      const response = await refresh(token);
      expect(response.status, what).toBe(401);
      expect(response.headers.get('set-cookie'), what).toBeNull();
      expect(JSON.stringify(await response.json()), what).not.toContain('"token"');
    }
    // portero's own token, expired too, is renewed while its session lives.
    expect((await refresh(own.token)).status).toBe(200);
  });

  it("POST /logout with one ends no session, though it names the session's sid", async () => {
    const own = await signedIn();
    for (const token of Object.values(await appTokens(own.claims))) {
      const response = await gateway.app.request(`${GATEWAY}/logout`, { method: 'POST', headers: bearer(token) });
      expect(response.status).toBe(302);
    }
    expect(await gateway.store.get(`revoked:${own.claims.sid}`)).toBeUndefined();
    expect((await get('/auth', cookie(own.token))).status).toBe(200);
  });
});

describe('with JWT_AUDIENCE set', () => {
  it("takes portero's own token, with that audience alone, and refuses an app's token that names it among others", async () => {
    await gatewayWith({ JWT_AUDIENCE: 'portero-apps' });
    const own = await signedIn();
    expect(own.claims.aud).toBe('portero-apps');
    expect((await get('/auth', cookie(own.token))).status).toBe(200);
    const tokens = { ...(await appTokens(own.claims)), ...(await appTokens(own.claims, ['portero-apps', 'some-app'])) };
    for (const [what, token] of Object.entries(tokens)) {
      expect((await get('/auth', bearer(token))).status, what).toBe(401);
    }
    // jose's own audience check would take this one: JWT_AUDIENCE is among its audiences.
    const among = (await appTokens(own.claims, ['portero-apps', 'some-app']))['an ID token (RS256, the key for the apps)'];
    expect((await get('/userinfo', bearer(among))).status).toBe(401);
  });
});
