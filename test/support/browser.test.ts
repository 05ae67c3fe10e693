import { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { describe, expect, it } from 'vitest';
import { TestBrowser } from './browser.js';

// The test browser's cookie jar sends SameSite cookies as browsers do, so that a test of a
// cross-site callback (form_post) can fail the way a real browser would make it fail.

const GATEWAY = 'https://gateway.test';
const PROVIDER = 'https://idp.example.test';

/** An app that sets one cookie of each SameSite kind, and echoes the Cookie header it receives. */
const app = new Hono();
app.get('/set', (c) => {
  setCookie(c, 'lax', '1', { sameSite: 'Lax', secure: true, path: '/' });
  setCookie(c, 'strict', '1', { sameSite: 'Strict', secure: true, path: '/' });
  setCookie(c, 'none', '1', { sameSite: 'None', secure: true, path: '/' });
  return c.body(null, 204);
});
app.on(['GET', 'POST'], '/echo', (c) => c.text(c.req.header('cookie') ?? ''));

async function cookiesSent(init: { method?: string; from?: string }): Promise<string[]> {
  const browser = new TestBrowser();
  await browser.get(app, `${GATEWAY}/set`);
  const response = await browser.request(app, `${GATEWAY}/echo`, init);
  return (await response.text())
    .split('; ')
    .map((pair) => pair.split('=')[0]!)
    .filter(Boolean)
    .sort();
}

describe('TestBrowser and SameSite', () => {
  it('sends every cookie on a same-site request, and on a request from a subdomain of the same site', async () => {
    expect(await cookiesSent({ method: 'POST' })).toEqual(['lax', 'none', 'strict']);
    expect(await cookiesSent({ method: 'POST', from: 'https://app.gateway.test' })).toEqual(['lax', 'none', 'strict']);
  });

  it('sends Lax and None cookies, not Strict ones, on a GET from another site (a provider sending the browser back)', async () => {
    expect(await cookiesSent({ from: PROVIDER })).toEqual(['lax', 'none']);
  });

  it('sends only None cookies on a POST from another site (a form_post callback)', async () => {
    expect(await cookiesSent({ method: 'POST', from: PROVIDER })).toEqual(['none']);
  });

  it('counts http and https of one domain as two sites', async () => {
    expect(await cookiesSent({ method: 'POST', from: 'http://gateway.test' })).toEqual(['none']);
  });
});

describe('TestBrowser and the headers of a navigation', () => {
  const headersApp = new Hono();
  headersApp.on(['GET', 'POST'], '/headers', (c) =>
    c.json(Object.fromEntries(['sec-fetch-site', 'origin', 'referer'].map((name) => [name, c.req.header(name) ?? null]))),
  );
  const sent = async (init: { method?: string; from?: string | null; headers?: Record<string, string> }) =>
    (await new TestBrowser().request(headersApp, `${GATEWAY}/headers`, init)).json();

  it('says where a navigation comes from, as browsers do: Sec-Fetch-Site, Origin on a POST, Referer to another origin', async () => {
    expect(await sent({})).toEqual({ 'sec-fetch-site': 'same-origin', origin: null, referer: null });
    expect(await sent({ method: 'POST' })).toEqual({ 'sec-fetch-site': 'same-origin', origin: GATEWAY, referer: null });
    expect(await sent({ from: 'https://app.gateway.test' })).toEqual({
      'sec-fetch-site': 'same-site',
      origin: null,
      referer: 'https://app.gateway.test/',
    });
    expect(await sent({ method: 'POST', from: PROVIDER })).toEqual({
      'sec-fetch-site': 'cross-site',
      origin: PROVIDER,
      referer: `${PROVIDER}/`,
    });
    expect(await sent({ from: null })).toEqual({ 'sec-fetch-site': 'none', origin: null, referer: null });
  });

  it('leaves the headers a test sets itself', async () => {
    expect(await sent({ method: 'POST', headers: { origin: 'null' } })).toEqual({
      'sec-fetch-site': 'same-origin',
      origin: 'null',
      referer: null,
    });
  });
});
