import { decodeJwt, decodeProtectedHeader } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { storeSecrets } from '../../src/flow/sealed.js';
import { PorteroCookies } from '../../src/http/cookies.js';
import { buildTestApp, type IsolatedRedisStore, isolatedRedisStore, TEST_COOKIE_SECRET, type TestApp } from '../support/app.js';
import { setCookieLines, TestBrowser } from '../support/browser.js';
import { v1Fields, v1Flow } from '../support/flow-record-v1.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { testRedis } from '../support/redis-server.js';

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const redis = await testRedis();
const GATEWAY = 'https://gateway.test';

let gateway: TestApp;
let isolated: IsolatedRedisStore;
let raw: IsolatedRedisStore['raw'];
let prefix: string;

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(async () => {
  msw.close();
  await redis.stop();
});
beforeEach(async () => {
  isolated = await isolatedRedisStore(redis.url);
  raw = isolated.raw;
  prefix = isolated.prefix;
  gateway = await buildTestApp({
    store: isolated.store,
    env: { ...idp.env('corp'), ALLOWED_REDIRECTS: 'https://app.example.com,https://*.apps.example.com', FLOW_TTL: '300' },
  });
  idp.idTokenOverride = undefined;
  idp.tokenError = undefined;
  idp.signWithForeignKey = false;
});
afterEach(async () => {
  await isolated.close();
});

async function startLogin(browser: TestBrowser, returnTo = 'https://app.example.com/dashboard?tab=1') {
  const response = await browser.get(gateway.app, `${GATEWAY}/login/corp?return_to=${encodeURIComponent(returnTo)}`);
  expect(response.status).toBe(302);
  return new URL(response.headers.get('location')!);
}

describe('GET /login/:provider', () => {
  it('redirects to the provider with code, state, nonce and an S256 challenge, and binds the browser with a __Host- cookie', async () => {
    const browser = new TestBrowser();
    const response = await browser.get(gateway.app, `${GATEWAY}/login/corp?return_to=${encodeURIComponent('https://app.example.com/x')}`);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('https://idp.example.test/authorize');
    const params = location.searchParams;
    expect(params.get('response_type')).toBe('code');
    expect(params.get('client_id')).toBe(idp.clientId);
    expect(params.get('redirect_uri')).toBe('https://gateway.test/callback/corp');
    expect(params.get('scope')).toBe('openid profile email');
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(params.get('state')!.length).toBeGreaterThanOrEqual(43);
    expect(params.get('nonce')!.length).toBeGreaterThanOrEqual(43);

    const [line, ...others] = response.headers.getSetCookie();
    expect(others).toEqual([]);
    expect(line).toMatch(/^__Host-portero_flow_[\w-]{16}=/);
    expect(line).toContain('Max-Age=300');
    expect(line).toContain('Path=/');
    expect(line).toContain('HttpOnly');
    expect(line).toContain('Secure');
    expect(line).toContain('SameSite=Lax');
    expect(line).not.toContain('Domain=');
    // 192 random bits, signed: "<32 base64url chars>.<HMAC-SHA256, base64url>", exactly as sent.
    const value = line!.slice(line!.indexOf('=') + 1, line!.indexOf(';'));
    expect(value).toMatch(/^[\w-]{32}\.[\w-]{43}$/);
  });

  it('stores the flow in Redis, sealed, under a key derived from the cookie value, with TTL FLOW_TTL', async () => {
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    const cookie = (await browser.cookies(GATEWAY)).find((c) => c.key.startsWith('__Host-portero_flow_'))!;
    const flowId = cookie.value.split('.')[0]!;
    const key = `${prefix}flow:${storeSecrets(flowId).storeId}`;
    expect(await raw.keys(`${prefix}flow:*`)).toEqual([key]);
    const ttl = await raw.ttl(key);
    expect(ttl).toBeGreaterThan(290);
    expect(ttl).toBeLessThanOrEqual(300);
    const stored = (await raw.get(key))!;
    // The record is ciphertext: neither the state, nor the return address, nor the cookie value shows.
    expect(stored).not.toContain(location.searchParams.get('state'));
    expect(stored).not.toContain(location.searchParams.get('nonce'));
    expect(stored).not.toContain('app.example.com');
    expect(stored).not.toContain(flowId);
  });

  it('answers 404 for an unknown provider and stores nothing', async () => {
    const response = await new TestBrowser().get(gateway.app, `${GATEWAY}/login/nope`);
    expect(response.status).toBe(404);
    expect(await response.text()).toContain('Unknown sign-in provider');
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await raw.keys(`${prefix}flow:*`)).toEqual([]);
  });

  it('answers 400 for a return_to on another origin, and stores nothing', async () => {
    const response = await new TestBrowser().get(gateway.app, `${GATEWAY}/login/corp?return_to=https://evil.example.net/`, {
      accept: 'application/json',
    });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body).toMatchObject({ error: 'return_to_not_allowed' });
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await raw.keys(`${prefix}flow:*`)).toEqual([]);
    // The operator reads what was refused and what it was held against; the client does not.
    expect(gateway.logs.lines.find((line) => line.error === 'return_to_not_allowed')).toMatchObject({
      reason: 'origin not allowed',
      origin: 'https://evil.example.net',
      allowed_redirects: `${GATEWAY},https://app.example.com,https://*.apps.example.com`,
    });
    expect(JSON.stringify(body)).not.toContain('allowed_redirects');
  });

  it.each(['dashboard', '//evil.example.net/', '%2F%2Fevil.example.net', 'https:evil.example.net'])(
    'answers a browser 400 with a page for the return_to %s, neither an allowed URL nor a path, and stores nothing',
    async (returnTo) => {
      const response = await new TestBrowser().get(gateway.app, `${GATEWAY}/login/corp?return_to=${encodeURIComponent(returnTo)}`);
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toContain('text/html');
      expect(await response.text()).toContain('That return address is not allowed');
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(await raw.keys(`${prefix}flow:*`)).toEqual([]);
    },
  );
});

describe('GET /callback/:provider', () => {
  it('exchanges the code with the PKCE verifier, issues the token cookie and sends the browser to return_to', async () => {
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    const callback = idp.authorize(location, {
      sub: 'u-42',
      claims: { email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace' },
    });
    // The provider's page sends the browser back: a cross-site, top-level GET.
    const response = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${callback}`, undefined, { from: idp.issuer });

    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('https://app.example.com/dashboard?tab=1');
    const [tokenRequest] = idp.tokenRequests.slice(-1);
    expect(tokenRequest!.redirectUri).toBe('https://gateway.test/callback/corp');
    expect(tokenRequest!.codeVerifier).toMatch(/^[\w-]{43,128}$/);
    expect(tokenRequest!.clientAuth).toBe('client_secret_basic');

    const cookies = setCookieLines(response);
    const flowLine = [...cookies.entries()].find(([name]) => name.startsWith('__Host-portero_flow_'))![1];
    expect(flowLine).toMatch(/Max-Age=0/);
    const tokenLine = cookies.get('__Host-auth_token')!;
    expect(tokenLine).toContain('HttpOnly');
    expect(tokenLine).toContain('Secure');
    expect(tokenLine).toContain('SameSite=Lax');
    // The cookie lives as long as the session (SESSION_TTL, a week by default), the token in it JWT_TTL.
    expect(tokenLine).toContain('Max-Age=604800');
    expect(tokenLine).not.toContain('Domain=');

    const token = (await browser.cookie(GATEWAY, '__Host-auth_token'))!.value;
    const header = decodeProtectedHeader(token);
    expect(header).toEqual({ alg: 'ES256', kid: gateway.keys.signing.kid, typ: 'JWT' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: GATEWAY,
      sub: 'corp:u-42',
      provider: 'corp',
      email: 'ada@example.com',
      email_verified: true,
      name: 'Ada Lovelace',
    });
    expect(claims.aud).toBeUndefined();
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(claims.jti).toMatch(/^[\w-]{22}$/);
    expect(claims.sid).toMatch(/^[\w-]{22}$/);
    // The flow is gone from the store.
    expect(await raw.keys(`${prefix}flow:*`)).toEqual([]);
  });

  it('sends the client secret in the form body to a provider whose discovery lists only that', async () => {
    idp.tokenEndpointAuthMethods = ['client_secret_post'];
    try {
      const postOnly = await buildTestApp({ store: gateway.store, env: idp.env('corp') });
      const browser = new TestBrowser();
      const login = await browser.get(postOnly.app, `${GATEWAY}/login/corp`);
      const done = await browser.get(
        postOnly.app,
        `${GATEWAY}/callback/corp?${idp.authorize(login.headers.get('location')!, { sub: 'u' })}`,
      );
      expect(done.status).toBe(302);
      expect(idp.tokenRequests.at(-1)!.clientAuth).toBe('client_secret_post');
    } finally {
      idp.tokenEndpointAuthMethods = ['client_secret_basic', 'client_secret_post'];
    }
  });

  it('refuses a replayed callback: the flow is consumed exactly once', async () => {
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    const flowCookies = (await browser.cookies(GATEWAY)).map((c) => `${c.key}=${c.value}`).join('; ');
    const callback = idp.authorize(location, { sub: 'u-1' });
    expect((await browser.get(gateway.app, `${GATEWAY}/callback/corp?${callback}`)).status).toBe(302);

    // The attacker (or the back button) replays the same callback with the same flow cookie.
    const replay = await gateway.app.request(`${GATEWAY}/callback/corp?${callback}`, { headers: { cookie: flowCookies } });
    expect(replay.status).toBe(400);
    const page = await replay.text();
    expect(page).toContain('Your sign-in expired or was not valid');
    expect(page).toContain('href="/"');
    expect(page).not.toContain(callback.get('code'));
  });

  it('handles two logins interleaved in two tabs of one browser', async () => {
    const browser = new TestBrowser();
    const tab1 = await startLogin(browser, 'https://app.example.com/one');
    const tab2 = await startLogin(browser, 'https://team.apps.example.com/two');
    expect((await browser.cookies(GATEWAY)).filter((c) => c.key.startsWith('__Host-portero_flow_'))).toHaveLength(2);

    const second = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(tab2, { sub: 'u-2' })}`);
    expect(second.headers.get('location')).toBe('https://team.apps.example.com/two');
    const first = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(tab1, { sub: 'u-2' })}`);
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe('https://app.example.com/one');
    expect((await browser.cookies(GATEWAY)).filter((c) => c.key.startsWith('__Host-portero_flow_'))).toEqual([]);
  });

  it('keeps at most five logins in flight per browser, dropping the oldest', async () => {
    const browser = new TestBrowser();
    const locations = [];
    for (let n = 1; n <= 7; n++) locations.push(await startLogin(browser, `https://app.example.com/${n}`));
    expect((await browser.cookies(GATEWAY)).filter((c) => c.key.startsWith('__Host-portero_flow_'))).toHaveLength(5);
    const oldest = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(locations[0]!, { sub: 'u' })}`);
    expect(oldest.status).toBe(400);
    const newest = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(locations[6]!, { sub: 'u' })}`);
    expect(newest.headers.get('location')).toBe('https://app.example.com/7');
  });

  it('refuses a callback whose state does not match the flow', async () => {
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    const callback = idp.authorize(location, { sub: 'u-1' });
    const cookie = (await browser.cookies(GATEWAY)).find((c) => c.key.startsWith('__Host-portero_flow_'))!;
    // The right flow cookie, presented for a different state.
    const forgedState = 'x'.repeat(43);
    callback.set('state', forgedState);
    const exchangesBefore = idp.tokenRequests.length;
    const response = await gateway.app.request(`${GATEWAY}/callback/corp?${callback}`, {
      headers: { cookie: `__Host-${PorteroCookies.flowCookieName(forgedState)}=${cookie.value}` },
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('Your sign-in expired or was not valid');
    expect(idp.tokenRequests.length).toBe(exchangesBefore);
  });

  /** A login as an instance of the version before started it: its flow record of version 1 in Redis, its cookie and the provider's callback. */
  async function loginStartedBefore(fields: { provider?: string; issuer?: string } = {}, on: TestApp = gateway, provider = idp) {
    const verifier = randomBytes(32).toString('base64url');
    const record = {
      provider: 'corp',
      issuer: provider.issuer,
      state: randomBytes(32).toString('base64url'),
      nonce: randomBytes(32).toString('base64url'),
      codeVerifier: verifier,
      returnTo: 'https://app.example.com/started-before',
      ...fields,
    };
    const old = v1Flow(v1Fields(record));
    await raw.set(`${prefix}${old.key}`, old.value, 'EX', 300);
    // The authorization request that instance sent, with its state, nonce and challenge.
    const location = new URL((await new TestBrowser().get(on.app, `${GATEWAY}/login/corp`)).headers.get('location')!);
    location.searchParams.set('state', record.state);
    location.searchParams.set('nonce', record.nonce);
    location.searchParams.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
    const signature = createHmac('sha256', TEST_COOKIE_SECRET).update(old.flowId).digest('base64url');
    const response = await on.app.request(`${GATEWAY}/callback/corp?${provider.authorize(location, { sub: 'u-old' })}`, {
      headers: { cookie: `__Host-${PorteroCookies.flowCookieName(record.state)}=${old.flowId}.${signature}`, accept: 'application/json' },
    });
    return { response, verifier, key: `${prefix}${old.key}` };
  }

  it('finishes a login that an instance of the version before started (a flow record of version 1, a rolling deploy)', async () => {
    const { response, verifier, key } = await loginStartedBefore();
    expect(response.status, await response.clone().text()).toBe(302);
    expect(response.headers.get('location')).toBe('https://app.example.com/started-before');
    expect(idp.tokenRequests.at(-1)!.codeVerifier).toBe(verifier);
    expect(await raw.exists(key)).toBe(0);
  });

  it('refuses such a login started with another provider, or at another issuer, before any code exchange', async () => {
    const exchanges = idp.tokenRequests.length;
    const other = await loginStartedBefore({ provider: 'other' });
    expect(other.response.status).toBe(400);
    expect(gateway.logs.lines.filter((line) => line.error).at(-1)).toMatchObject({ error: 'flow_invalid', reason: 'provider mismatch' });
    // A provider that sends iss: the callback names the provider's issuer, not the record's (a mix-up).
    const moved = await loginStartedBefore({ issuer: 'https://old-idp.example.test' });
    expect(moved.response.status).toBe(400);
    expect(gateway.logs.lines.filter((line) => line.error).at(-1)).toMatchObject({ error: 'flow_invalid', reason: 'iss mismatch' });
    // One that does not: the record's issuer is not the one the provider's configuration now names.
    const quiet = await new MockOidcProvider('https://quiet-idp.example.test', { sendsIss: false }).init();
    msw.use(...quiet.handlers());
    const withoutIss = await buildTestApp({ store: isolated.store, env: quiet.env('corp') });
    const silent = await loginStartedBefore({ issuer: 'https://old-idp.example.test' }, withoutIss, quiet);
    expect(silent.response.status).toBe(400);
    expect(withoutIss.logs.lines.filter((line) => line.error).at(-1)).toMatchObject({ error: 'flow_invalid', reason: 'issuer changed' });
    expect(quiet.tokenRequests).toEqual([]);
    expect(idp.tokenRequests.length).toBe(exchanges);
  });
});
