import { decodeJwt } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp, memoryStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';

// Sign-out that a third party cannot trigger. A page of another site can link to /logout (the
// browser sends the SameSite=Lax token cookie with that top-level GET) or post a form there; the
// TestBrowser sends what a browser would with each (`from`): Sec-Fetch-Site, Origin, Referer, and
// the cookies SameSite lets through.

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://auth.example.com';
const APP = 'https://app.example.com';
const EVIL = 'https://evil.example.net';

let gateway: TestApp;

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

async function gatewayWith(allowedRedirects: string): Promise<TestApp> {
  return buildTestApp({
    store: memoryStore(),
    env: { ...idp.env('corp'), PUBLIC_URL: GATEWAY, COOKIE_DOMAIN: '.example.com', ALLOWED_REDIRECTS: allowedRedirects },
  });
}

beforeEach(async () => {
  gateway = await gatewayWith(APP);
});

/** A browser signed in through the real flow, its token, and a check of whether that token still passes /auth. */
async function signIn() {
  const browser = new TestBrowser();
  const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
  await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(login.headers.get('location')!, { sub: 'u-1' })}`);
  const token = (await browser.cookie(GATEWAY, 'auth_token'))!.value;
  const signedIn = async () => {
    const auth = await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } });
    const cookie = await browser.cookie(GATEWAY, 'auth_token');
    return { tokenValid: auth.status === 200, cookieKept: cookie?.value === token };
  };
  return { browser, token, signedIn };
}

const revoked = async (token: string) => (await gateway.store.get(`revoked:${decodeJwt(token).sid as string}`)) !== undefined;
const logoutUrl = `${GATEWAY}/logout?return_to=${encodeURIComponent(`${APP}/bye`)}`;

describe('GET /logout', () => {
  it("shows a confirmation page, and signs no one out, when a link on another site's page leads there", async () => {
    const { browser, token, signedIn } = await signIn();
    const response = await browser.get(gateway.app, logoutUrl, undefined, { from: EVIL });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.getSetCookie()).toEqual([]);
    const page = await response.text();
    expect(page).toContain('<h1>Sign out?</h1>');
    expect(page).toContain('A link or a page that portero cannot vouch for sent you here to sign you out.');
    // The button posts to /logout with the same return_to, on portero's own page.
    expect(page).toContain(`<form method="post" action="/logout?return_to=${encodeURIComponent(`${APP}/bye`)}">`);
    expect(await signedIn()).toEqual({ tokenValid: true, cookieKept: true });
    expect(await revoked(token)).toBe(false);

    // Pressing the button on portero's page: a same-origin POST (Origin: null, as portero's
    // no-referrer policy makes the browser send), which signs out and goes on to return_to.
    const confirmed = await browser.request(gateway.app, logoutUrl, { method: 'POST', headers: { origin: 'null' } });
    expect(confirmed.status).toBe(302);
    expect(confirmed.headers.get('location')).toBe(`${APP}/bye`);
    expect(await signedIn()).toEqual({ tokenValid: false, cookieKept: false });
  });

  it("signs out in one click from a link on an allowed app's page (same site), and from a typed address or bookmark", async () => {
    for (const from of [APP, null]) {
      const { browser, token, signedIn } = await signIn();
      const response = await browser.get(gateway.app, logoutUrl, undefined, { from });
      expect(response.status, `from ${from}`).toBe(302);
      expect(response.headers.get('location')).toBe(`${APP}/bye`);
      expect(await signedIn()).toEqual({ tokenValid: false, cookieKept: false });
      expect(await revoked(token)).toBe(true);
    }
  });

  it('asks first on a link from a page of the same site that is not an allowed app', async () => {
    const { browser, signedIn } = await signIn();
    const response = await browser.get(gateway.app, logoutUrl, undefined, { from: 'https://wiki.example.com' });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Sign out?');
    expect(await signedIn()).toEqual({ tokenValid: true, cookieKept: true });
  });

  it('asks first when a link on an allowed app of another site leads there: only the same site signs out in one click', async () => {
    gateway = await gatewayWith(`${APP},https://app.partner.org`);
    const { browser, signedIn } = await signIn();
    const response = await browser.get(gateway.app, `${GATEWAY}/logout`, undefined, { from: 'https://app.partner.org' });
    expect(response.status).toBe(200);
    expect(await signedIn()).toEqual({ tokenValid: true, cookieKept: true });
  });

  it.each([
    ['a foreign Referer from a browser without Sec-Fetch-Site', { referer: `${EVIL}/page` }],
    ['a foreign Origin', { origin: EVIL }],
    ['a foreign Referer despite Sec-Fetch-Site: same-site', { referer: 'https://wiki.example.com/', 'sec-fetch-site': 'same-site' }],
    ['Origin: null from anywhere but portero itself', { origin: 'null', 'sec-fetch-site': 'same-site' }],
    ['no browser marker at all: an older browser from a page that sends no Referer', {}],
    ['a prefetch of a same-origin link', { 'sec-fetch-site': 'same-origin', 'sec-purpose': 'prefetch' }],
    // Red team: any page of the site (an upload, a wiki) can hide its Referer with rel=noreferrer.
    [
      'a link on a same-site page that hides its Referer',
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' },
    ],
    [
      'an <img> on a same-site page that hides its Referer',
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' },
    ],
    [
      'a fetch() on a same-site page that hides its Referer',
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' },
    ],
  ])('asks first on %s', async (_, headers: Record<string, string>) => {
    const { token, signedIn } = await signIn();
    const response = await gateway.app.request(logoutUrl, { headers: { cookie: `auth_token=${token}`, ...headers } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Sign out?');
    expect(response.headers.getSetCookie()).toEqual([]);
    expect((await signedIn()).tokenValid).toBe(true);
  });

  it('checks return_to first: one that is not allowed is a 400 whoever links there', async () => {
    const response = await new TestBrowser().get(gateway.app, `${GATEWAY}/logout?return_to=${EVIL}/`, undefined, { from: EVIL });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('That return address is not allowed');
  });
});

describe('POST /logout', () => {
  it('refuses a form on another site with 403 and a page saying what to do, signing no one out', async () => {
    const { browser, token, signedIn } = await signIn();
    const response = await browser.request(gateway.app, logoutUrl, { method: 'POST', from: EVIL });
    expect(response.status).toBe(403);
    expect(response.headers.getSetCookie()).toEqual([]);
    const page = await response.text();
    expect(page).toContain('This request came from another site');
    expect(page).toContain('follow the link below to portero’s page and press Sign out there');
    expect(page).toContain('href="/"');
    expect(await signedIn()).toEqual({ tokenValid: true, cookieKept: true });

    // Even carrying the cookie (a browser that sends it cross-site), and asking for JSON.
    const withCookie = await gateway.app.request(logoutUrl, {
      method: 'POST',
      headers: { cookie: `auth_token=${token}`, origin: EVIL, 'sec-fetch-site': 'cross-site', accept: 'application/json' },
    });
    expect(withCookie.status).toBe(403);
    expect(await withCookie.json()).toMatchObject({ error: 'cross_site_request' });
    expect(await revoked(token)).toBe(false);
  });

  it.each([
    ['a foreign Referer and no Origin', { referer: `${EVIL}/` }],
    ['a same-site Origin that is not an allowed app', { origin: 'https://wiki.example.com', 'sec-fetch-site': 'same-site' }],
    ['Origin: null that is not same-origin (a sandboxed frame, a data: page)', { origin: 'null', 'sec-fetch-site': 'cross-site' }],
    ['only Sec-Fetch-Site: same-site, no Origin', { 'sec-fetch-site': 'same-site' }],
  ])('refuses %s', async (_, headers: Record<string, string>) => {
    const { token } = await signIn();
    const response = await gateway.app.request(logoutUrl, { method: 'POST', headers: { cookie: `auth_token=${token}`, ...headers } });
    expect(response.status).toBe(403);
    expect(await revoked(token)).toBe(false);
  });

  it("accepts portero's own page and an allowed app's sign-out form", async () => {
    const cases: [string, { from?: string; headers?: Record<string, string> }][] = [
      ["portero's own page (Origin: null, same-origin)", { headers: { origin: 'null', 'sec-fetch-site': 'same-origin' } }],
      ["portero's origin", {}],
      ["an allowed app's form", { from: APP }],
    ];
    for (const [name, init] of cases) {
      const { browser, signedIn } = await signIn();
      const response = await browser.request(gateway.app, logoutUrl, { method: 'POST', ...init });
      expect(response.status, name).toBe(302);
      expect(response.headers.get('location')).toBe(`${APP}/bye`);
      expect(await signedIn(), name).toEqual({ tokenValid: false, cookieKept: false });
    }
  });

  it('goes by Referer when there is no Origin: an allowed one is accepted', async () => {
    const { token } = await signIn();
    const response = await gateway.app.request(logoutUrl, {
      method: 'POST',
      headers: { cookie: `auth_token=${token}`, referer: `${APP}/settings`, 'sec-fetch-site': 'same-site' },
    });
    expect(response.status).toBe(302);
    expect(await revoked(token)).toBe(true);
  });

  it('accepts an API client with a bearer token and no browser headers (curl), and revokes its token', async () => {
    const { token } = await signIn();
    const response = await gateway.app.request(`${GATEWAY}/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(302);
    expect(await revoked(token)).toBe(true);
  });
});
