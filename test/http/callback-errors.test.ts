import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KeyValueStore } from '../../src/store/types.js';
import { buildTestApp, ManualClock, memoryStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://gateway.test';
const JSON_ACCEPT = { accept: 'application/json' };

/** Counts calls of every store method, to show what is refused before any round trip. */
function countingStore(inner: KeyValueStore): KeyValueStore & { calls: number } {
  const counter = { calls: 0 };
  return new Proxy(inner as KeyValueStore & { calls: number }, {
    get(target, name, receiver) {
      if (name === 'calls') return counter.calls;
      const member = Reflect.get(target, name, receiver) as unknown;
      if (typeof member !== 'function') return member;
      return (...args: unknown[]) => {
        counter.calls++;
        return (member as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

let clock: ManualClock;
let store: KeyValueStore & { calls: number };
let gateway: TestApp;

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
afterEach(() => msw.resetHandlers());
beforeEach(async () => {
  clock = new ManualClock();
  store = countingStore(memoryStore(clock));
  gateway = await buildTestApp({ store, clock, env: { ...idp.env('corp'), FLOW_TTL: '120' } });
  idp.idTokenOverride = undefined;
  idp.tokenError = undefined;
  idp.signWithForeignKey = false;
});

async function startLogin(browser: TestBrowser) {
  const response = await browser.get(gateway.app, `${GATEWAY}/login/corp?return_to=/after`);
  expect(response.status).toBe(302);
  return new URL(response.headers.get('location')!);
}

/** The single log line of the last request that failed. */
function lastErrorLine() {
  const lines = gateway.logs.lines.filter((line) => line.error);
  return lines[lines.length - 1];
}

async function expectStartAgainPage(response: Response, status: number, title: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain('text/html');
  const page = await response.text();
  expect(page).toContain(title);
  expect(page).toContain('<a class="button primary" href="/">Start again</a>');
  expect(page).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  return page;
}

describe('a callback that cannot be trusted is refused with 400 and a way to start again', () => {
  it('without any flow cookie', async () => {
    const location = await startLogin(new TestBrowser());
    const response = await new TestBrowser().get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(location, { sub: 'u' })}`);
    await expectStartAgainPage(response, 400, 'Your sign-in expired or was not valid');
    expect(lastErrorLine()).toMatchObject({ error: 'flow_invalid', reason: 'no flow cookie', status: 400 });
  });

  it('with a malformed flow cookie', async () => {
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    const [cookie] = await browser.cookies(GATEWAY);
    const response = await gateway.app.request(`${GATEWAY}/callback/corp?${idp.authorize(location, { sub: 'u' })}`, {
      headers: { cookie: `${cookie!.key}=not-signed-at-all` },
    });
    await expectStartAgainPage(response, 400, 'Your sign-in expired or was not valid');
    expect(lastErrorLine()).toMatchObject({ reason: 'bad cookie signature' });
  });

  it('with a forged flow cookie, refused before any store round trip', async () => {
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    const [cookie] = await browser.cookies(GATEWAY);
    const [value, signature] = decodeURIComponent(cookie!.value).split('.');
    const forged = `${value!.slice(0, -2)}AA.${signature}`;
    const before = store.calls;
    const response = await gateway.app.request(`${GATEWAY}/callback/corp?${idp.authorize(location, { sub: 'u' })}`, {
      headers: { cookie: `${cookie!.key}=${encodeURIComponent(forged)}`, ...JSON_ACCEPT },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'flow_invalid', error_description: 'Your sign-in expired or was not valid' });
    expect(store.calls).toBe(before);
    expect(lastErrorLine()).toMatchObject({ reason: 'bad cookie signature' });
  });

  it('when the flow expired (FLOW_TTL passed)', async () => {
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    clock.advance(121);
    const response = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(location, { sub: 'u' })}`);
    await expectStartAgainPage(response, 400, 'Your sign-in expired or was not valid');
  });

  it('when the callback arrives for another provider than the login started with', async () => {
    const other = await buildTestApp({ store, clock, env: { ...idp.env('corp'), ...idp.env('other') } });
    const browser = new TestBrowser();
    const response = await browser.get(other.app, `${GATEWAY}/login/corp`);
    const callback = idp.authorize(response.headers.get('location')!, { sub: 'u' });
    const wrong = await browser.get(other.app, `${GATEWAY}/callback/other?${callback}`);
    expect(wrong.status).toBe(400);
    // The record is sealed bound to its provider and issuer: for another it does not open.
    expect(other.logs.lines.find((line) => line.error)).toMatchObject({ reason: 'flow record does not open for this provider and issuer' });
  });
});

describe('a provider whose issuer changed while the login was under way (a deploy that moved it)', () => {
  it('is refused with 400 before any code exchange, at either issuer', async () => {
    const moved = await new MockOidcProvider('https://idp2.example.test').init();
    msw.use(...moved.handlers());
    // Instance A still has the old issuer; instance B, deployed meanwhile, the new one, on one store.
    const instanceB = await buildTestApp({
      store,
      clock,
      env: { ...idp.env('corp'), PROVIDER_CORP_ISSUER: moved.issuer, FLOW_TTL: '120' },
    });
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    const exchanges = [idp.tokenRequests.length, moved.tokenRequests.length];
    const response = await browser.get(instanceB.app, `${GATEWAY}/callback/corp?${idp.authorize(location, { sub: 'u' })}`, undefined, {
      from: idp.issuer,
    });
    await expectStartAgainPage(response, 400, 'Your sign-in expired or was not valid');
    expect(instanceB.logs.lines.find((line) => line.error)).toMatchObject({
      error: 'flow_invalid',
      reason: 'flow record does not open for this provider and issuer',
    });
    expect([idp.tokenRequests.length, moved.tokenRequests.length]).toEqual(exchanges);
  });
});

describe('a malformed callback is refused with 400 before any code exchange', () => {
  const cases: [string, (params: URLSearchParams) => void, string][] = [
    ['a repeated state', (params) => params.append('state', params.get('state')!), 'duplicate state'],
    ['a repeated code', (params) => params.append('code', 'other'), 'duplicate code'],
    ['another issuer (RFC 9207 mix-up)', (params) => params.set('iss', 'https://evil.example.test'), 'iss mismatch'],
    ['no code', (params) => params.delete('code'), 'no code'],
    ['an empty iss', (params) => params.set('iss', ''), 'iss mismatch'],
    // Found by test/http/fuzz.test.ts: these were 502s ("the provider did not accept the login"),
    // openid-client refusing the callback before it asked the provider anything.
    ['no iss from a provider whose discovery says it sends one (RFC 9207)', (params) => params.delete('iss'), 'iss missing'],
    ['an id_token, as an implicit or hybrid flow would send', (params) => params.set('id_token', 'x.y.z'), 'unexpected id_token'],
    ['an access token, as an implicit flow would send', (params) => params.set('token', 'x'), 'unexpected token'],
    ['a JARM response', (params) => params.set('response', 'x.y.z'), 'unexpected response'],
    [
      'a repeated id_token',
      (params) => {
        params.append('id_token', 'a');
        params.append('id_token', 'b');
      },
      'duplicate id_token',
    ],
  ];
  for (const [what, tamper, reason] of cases) {
    it(`with ${what}`, async () => {
      const browser = new TestBrowser();
      const location = await startLogin(browser);
      const params = idp.authorize(location, { sub: 'u' });
      tamper(params);
      const exchanges = idp.tokenRequests.length;
      const response = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${params}`);
      await expectStartAgainPage(response, 400, 'Your sign-in expired or was not valid');
      expect(lastErrorLine()).toMatchObject({ error: 'flow_invalid', reason });
      expect(idp.tokenRequests.length).toBe(exchanges);
    });
  }
});

describe('POST /callback (response_mode=form_post)', () => {
  // A browser sends a SameSite=Lax flow cookie with the provider's GET redirect back, but not with
  // a form the provider's page posts cross-site. So a preset that does not ask for form_post
  // (this one) cannot finish a login that way; test/providers/hooks.test.ts shows one that does,
  // with its SameSite=None cookie, complete through the same route.
  it('a cross-site form POST carries no Lax flow cookie: 400, the user can start again, and nothing is exchanged', async () => {
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    const exchanges = idp.tokenRequests.length;
    const response = await browser.request(gateway.app, `${GATEWAY}/callback/corp`, {
      method: 'POST',
      from: idp.issuer,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: idp.authorize(location, { sub: 'u-post' }).toString(),
    });
    await expectStartAgainPage(response, 400, 'Your sign-in expired or was not valid');
    expect(lastErrorLine()).toMatchObject({ error: 'flow_invalid', reason: 'no flow cookie' });
    expect(idp.tokenRequests.length).toBe(exchanges);
    // The same answer by the provider's GET redirect back (cross-site, top-level) carries the cookie.
    const again = await startLogin(browser);
    const done = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(again, { sub: 'u-get' })}`, undefined, {
      from: idp.issuer,
    });
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toBe('https://gateway.test/after');
  });

  it('refuses a body that is not a form, or too large, with 400', async () => {
    const notForm = await gateway.app.request(`${GATEWAY}/callback/corp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...JSON_ACCEPT },
      body: '{}',
    });
    expect(notForm.status).toBe(400);
    expect(await notForm.json()).toMatchObject({ error: 'bad_request' });
    const huge = await gateway.app.request(`${GATEWAY}/callback/corp`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(1024 * 1024), ...JSON_ACCEPT },
      body: `state=${'x'.repeat(1024 * 1024 - 6)}`,
    });
    expect(huge.status).toBe(400);
    expect(await huge.json()).toMatchObject({ error: 'bad_request' });
  });
});

describe('what the provider or its tokens say', () => {
  it('access_denied at the provider gives a 401 page naming it, and the user can start again', async () => {
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    const response = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.deny(location)}`);
    await expectStartAgainPage(response, 401, 'Sign-in was cancelled at the provider');
    // Nothing is lost: a new login works at once.
    const again = await startLogin(browser);
    const done = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(again, { sub: 'u' })}`);
    expect(done.headers.get('location')).toBe('https://gateway.test/after');
  });

  it('another error from the provider is a 502 logged as provider_error, its own word kept apart', async () => {
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    const params = idp.deny(location);
    params.set('error', 'temporarily_unavailable');
    const response = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${params}`);
    await expectStartAgainPage(response, 502, 'The sign-in provider reported an error');
    expect(lastErrorLine()).toMatchObject({ error: 'provider_error', oauth_error: 'temporarily_unavailable' });
  });

  it('a token endpoint error is a 502, with the provider response kept out of the page', async () => {
    idp.tokenError = { status: 400, body: { error: 'invalid_grant', error_description: 'SECRET-PROVIDER-DETAIL' } };
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    const response = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(location, { sub: 'u' })}`);
    const page = await expectStartAgainPage(response, 502, 'The sign-in provider did not accept the login');
    expect(page).not.toContain('SECRET-PROVIDER-DETAIL');
    expect(lastErrorLine()).toMatchObject({ error: 'token_exchange_failed', oauth_error: 'invalid_grant', level: 'warn' });
  });
  // Each way an ID token can fail to hold up: test/http/id-token-checks.test.ts.
});

describe('when the provider cannot be reached', () => {
  it('discovery failing gives 502 and stores nothing; the next login after a short backoff retries and works', async () => {
    const fresh = await buildTestApp({ store, clock, env: idp.env('corp') });
    msw.use(http.get(`${idp.issuer}/.well-known/openid-configuration`, () => HttpResponse.error(), { once: true }));
    const browser = new TestBrowser();
    const down = await browser.get(fresh.app, `${GATEWAY}/login/corp`);
    await expectStartAgainPage(down, 502, 'The sign-in provider cannot be reached');
    expect(down.headers.getSetCookie()).toEqual([]);
    expect(down.headers.get('retry-after')).toBe('5');
    // Within the backoff the failure is answered at once: discovery would have worked by now.
    clock.advance(3);
    const still = await browser.get(fresh.app, `${GATEWAY}/login/corp`);
    await expectStartAgainPage(still, 502, 'The sign-in provider cannot be reached');
    expect(still.headers.get('retry-after')).toBe('2');
    clock.advance(2);
    const up = await browser.get(fresh.app, `${GATEWAY}/login/corp`);
    expect(up.status).toBe(302);
    expect(up.headers.get('location')).toMatch(/^https:\/\/idp\.example\.test\/authorize\?/);
  });
});

describe('errors are logged once, without secrets', () => {
  it('one JSON line per failed request, with its request id and no code, state, cookie or token', async () => {
    idp.tokenError = { status: 400, body: { error: 'invalid_grant' } };
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    const callback = idp.authorize(location, { sub: 'u' });
    // Read before the callback, which clears it: the signed flow cookie and the bare flow id in it.
    const flowCookies = (await browser.cookies(GATEWAY)).map((c) => decodeURIComponent(c.value));
    expect(flowCookies).toHaveLength(1);
    const flowSecrets = [...flowCookies, ...flowCookies.map((value) => value.split('.')[0]!)];
    const response = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${callback}`);
    const requestId = response.headers.get('x-request-id');
    const lines = gateway.logs.lines.filter((line) => line.request_id === requestId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ path: '/callback/corp', status: 502, error: 'token_exchange_failed' });
    const everything = gateway.logs.raw.join('\n');
    for (const secret of [callback.get('code')!, callback.get('state')!, ...flowSecrets, idp.clientSecret]) {
      expect(everything).not.toContain(secret);
    }
    expect(await response.text()).toContain(requestId);
  });

  it('a successful sign-in logs neither the token it issues nor the provider’s code', async () => {
    const browser = new TestBrowser();
    const location = await startLogin(browser);
    const callback = idp.authorize(location, { sub: 'u' });
    const done = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${callback}`);
    expect(done.status).toBe(302);
    const token = (await browser.cookie(GATEWAY, '__Host-auth_token'))!.value;
    const everything = gateway.logs.raw.join('\n');
    for (const secret of [token, token.split('.')[2]!, callback.get('code')!]) expect(everything).not.toContain(secret);
  });
});
