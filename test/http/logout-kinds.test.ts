import { decodeJwt } from 'jose';
import { PorteroError, STORE_UNAVAILABLE } from '../../src/errors.js';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, memoryStore, type TestApp, type TwoInstances, twoInstancesOnRedis } from '../support/app.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { testRedis } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';
import { signInAt } from '../support/sign-in.js';

// The ways a session ends besides /logout of its own browser: the provider's back-channel logout
// (two instances on one Redis), and a /logout that goes on to sign out at the provider too.

const idp = await new MockOidcProvider().init();
const END_SESSION = 'https://sso.example.test/logout';
const keycloakLike = await new MockOidcProvider('https://sso.example.test', { discovery: { end_session_endpoint: END_SESSION } }).init();
const msw = setupServer(...idp.handlers(), ...keycloakLike.handlers());
const redis = await testRedis();
const GATEWAY = 'https://gateway.test';
const COOKIE = '__Host-auth_token';
const env = { ...idp.env('corp'), ALLOWED_REDIRECTS: 'https://app.example.com' };

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
const opened: TwoInstances[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});
afterAll(async () => {
  msw.close();
  await redis.stop();
});

async function twoInstances() {
  const both = await twoInstancesOnRedis(redis.url, env);
  opened.push(both);
  return both;
}

const signIn = (gateway: TestApp, provider: MockOidcProvider, sub: string, claims: Record<string, unknown> = {}) =>
  signInAt(gateway, provider, { sub, claims }, { origin: GATEWAY });

const backchannel = (gateway: TestApp, logoutToken: string, provider = 'corp') =>
  gateway.app.request(`${GATEWAY}/backchannel-logout/${provider}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: logoutToken }).toString(),
  });

const authStatus = async (gateway: TestApp, token: string) =>
  (await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } })).status;

const refusedWithin = (gateway: TestApp, token: string, what: string) =>
  pollUntil(async () => (await authStatus(gateway, token)) === 401, { what, timeoutMs: 3000, intervalMs: 20 });

describe('POST /backchannel-logout/:provider', () => {
  it('ends the session the provider names by its sid, refused on the other instance too, and that one only', async () => {
    const { a, b, raw } = await twoInstances();
    const laptop = await signIn(a, idp, 'ada', { sid: 'op-session-1' });
    const phone = await signIn(a, idp, 'ada', { sid: 'op-session-2' });
    const logoutToken = await idp.logoutToken({ sid: 'op-session-1' });
    const answer = await backchannel(b, logoutToken);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    await refusedWithin(a, laptop.token, 'instance A to refuse the session ended by back-channel logout on B');
    expect(await authStatus(b, laptop.token)).toBe(401);
    expect(await authStatus(a, phone.token)).toBe(200);
    expect(b.logs.lines.find((line) => line.event === 'session_ended')).toMatchObject({
      reason: 'backchannel',
      sid: decodeJwt(laptop.token).sid,
      sub: 'corp:ada',
    });
    expect(await raw.keys(`*session:${decodeJwt(laptop.token).sid}`)).toEqual([]);
    // The same logout token again is a replay.
    const replay = await backchannel(a, logoutToken);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('ends every session of the user when it names only the sub', async () => {
    const { a, b } = await twoInstances();
    const laptop = await signIn(a, idp, 'bea', { sid: 'op-session-3' });
    const phone = await signIn(b, idp, 'bea');
    const other = await signIn(a, idp, 'cy');
    expect((await backchannel(a, await idp.logoutToken({ sid: undefined, sub: 'bea' }))).status).toBe(200);
    for (const token of [laptop.token, phone.token]) await refusedWithin(b, token, 'both of the user’s sessions refused');
    expect(await authStatus(b, other.token)).toBe(200);
  });

  it('refuses a logout token that does not hold up, ending nothing: another audience, no event, a nonce, not signed by the provider', async () => {
    const { a } = await twoInstances();
    const { token } = await signIn(a, idp, 'dee', { sid: 'op-session-4' });
    const forged = [
      await idp.logoutToken({ sid: 'op-session-4', aud: 'another-client' }),
      await idp.logoutToken({ sid: 'op-session-4', events: undefined }),
      await idp.logoutToken({ sid: 'op-session-4', nonce: 'n-1' }),
      await idp.logoutToken({ sid: 'op-session-4' }, { foreignKey: true }),
    ];
    for (const logoutToken of forged) {
      const answer = await backchannel(a, logoutToken);
      expect(answer.status).toBe(400);
      expect(await answer.json()).toMatchObject({ error: 'invalid_request' });
    }
    expect(await authStatus(a, token)).toBe(200);
    // Never the token itself in the log.
    for (const logoutToken of forged) expect(a.logs.raw.join('\n')).not.toContain(logoutToken.split('.')[2]);
    const unknown = await backchannel(a, await idp.logoutToken(), 'nobody');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: expect.any(String) });
    const noForm = await a.app.request(`${GATEWAY}/backchannel-logout/corp`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(noForm.status).toBe(400);
  });
});

describe('sign out everywhere on two instances', () => {
  it('ends every session of the user signed in on either, refused by the other instance at /auth and /refresh too', async () => {
    const { a, b } = await twoInstances();
    const laptop = await signIn(a, idp, 'eli');
    const phone = await signIn(b, idp, 'eli');
    const other = await signIn(b, idp, 'fay');
    const out = await laptop.browser.request(a.app, `${GATEWAY}/logout?everywhere=true`, { method: 'POST' });
    expect(out.status).toBe(302);
    for (const token of [laptop.token, phone.token]) {
      await refusedWithin(b, token, 'instance B to refuse the sessions signed out everywhere on A');
      const renewal = await b.app.request(`${GATEWAY}/refresh`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      });
      expect(renewal.status).toBe(401);
    }
    expect(await authStatus(b, other.token)).toBe(200);
    expect(a.logs.lines.filter((line) => line.event === 'session_ended').map((line) => line.reason)).toEqual(['everywhere', 'everywhere']);
  });
});

describe('/logout at a provider with an end_session_endpoint (RP-Initiated Logout)', () => {
  const keycloakEnv = { ...keycloakLike.env('corp'), ALLOWED_REDIRECTS: 'https://app.example.com' };

  it('ends the session here, then sends the browser to sign out there with the ID token as hint, back through /signed-out to return_to', async () => {
    const gateway = await buildTestApp({ store: memoryStore(), env: keycloakEnv });
    const { browser, token } = await signIn(gateway, keycloakLike, 'eve');
    const idToken = JSON.parse((await gateway.store.get(`session-grant:${decodeJwt(token).sid}`))!).idToken as string;
    const out = await browser.request(gateway.app, `${GATEWAY}/logout?return_to=https://app.example.com/bye`, { method: 'POST' });
    expect(out.status).toBe(302);
    const there = new URL(out.headers.get('location')!);
    expect(`${there.origin}${there.pathname}`).toBe(END_SESSION);
    expect(Object.fromEntries(there.searchParams)).toEqual({
      id_token_hint: idToken,
      post_logout_redirect_uri: `${GATEWAY}/signed-out`,
      state: 'https://app.example.com/bye',
      client_id: keycloakLike.clientId,
    });
    expect(await authStatus(gateway, token)).toBe(401);
    expect(await browser.cookie(GATEWAY, COOKIE)).toBeUndefined();

    // Back from the provider: on to return_to, held to ALLOWED_REDIRECTS again.
    const back = await browser.get(gateway.app, `${GATEWAY}/signed-out?state=${encodeURIComponent('https://app.example.com/bye')}`);
    expect(back.status).toBe(302);
    expect(back.headers.get('location')).toBe('https://app.example.com/bye');
    const hostile = await browser.get(gateway.app, `${GATEWAY}/signed-out?state=${encodeURIComponent('https://evil.example/')}`);
    expect(hostile.headers.get('location')).toBe(`${GATEWAY}/`);
  });

  it('stays local with PROVIDER_<ID>_LOGOUT=local, and for a provider without one', async () => {
    const local = await buildTestApp({ store: memoryStore(), env: { ...keycloakEnv, PROVIDER_CORP_LOGOUT: 'local' } });
    const signedIn = await signIn(local, keycloakLike, 'fay');
    const out = await signedIn.browser.request(local.app, `${GATEWAY}/logout?return_to=https://app.example.com/bye`, { method: 'POST' });
    expect(out.headers.get('location')).toBe('https://app.example.com/bye');
    const plain = await buildTestApp({ store: memoryStore(), env });
    const other = await signIn(plain, idp, 'gus');
    const plainOut = await other.browser.request(plain.app, `${GATEWAY}/logout?return_to=https://app.example.com/bye`, { method: 'POST' });
    expect(plainOut.headers.get('location')).toBe('https://app.example.com/bye');
  });
});

describe('under concurrency and failure', () => {
  it('keeps a user within SESSIONS_PER_USER when logins come at once on two instances', async () => {
    const capped = { ...env, SESSIONS_PER_USER: '2' };
    const both = await twoInstancesOnRedis(redis.url, capped);
    opened.push(both);
    const browsers = await Promise.all(Array.from({ length: 6 }, (_, i) => signIn(i % 2 === 0 ? both.a : both.b, idp, 'hal')));
    const living = await both.raw.zrange(`${both.prefix}user-sessions:corp:hal`, '0', '-1');
    expect(living).toHaveLength(2);
    const passing = [];
    for (const { token } of browsers) if ((await authStatus(both.a, token)) === 200) passing.push(token);
    expect(passing).toHaveLength(2);
  });

  it('takes the provider’s retry of a back-channel logout whose sessions could not be ended the first time', async () => {
    // A store that fails once, when the sessions the logout token names are looked up (after its jti was kept).
    const memory = memoryStore();
    let failNextLookup = false;
    const flaky = new Proxy(memory, {
      get(target, name) {
        if (name === 'members' && failNextLookup) {
          failNextLookup = false;
          return async () => Promise.reject(new PorteroError(STORE_UNAVAILABLE, 'the store did not answer'));
        }
        const value = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const gateway = await buildTestApp({ store: flaky, env });
    const { token } = await signIn(gateway, idp, 'ivy', { sid: 'op-session-9' });
    const logoutToken = await idp.logoutToken({ sid: 'op-session-9' });
    failNextLookup = true;
    expect((await backchannel(gateway, logoutToken)).status).toBe(503);
    expect(await authStatus(gateway, token)).toBe(200);
    // The provider retries the same token, as Back-Channel Logout 1.0 lets it: taken, not a replay.
    expect((await backchannel(gateway, logoutToken)).status).toBe(200);
    expect(await authStatus(gateway, token)).toBe(401);
    expect((await backchannel(gateway, logoutToken)).status).toBe(400);
  });
});
