import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, memoryStore } from '../support/app.js';
import { type Chromium, launchChromium } from '../support/chromium.js';
import { escapeHtml } from '../support/html.js';
import { OP_ACCOUNTS, type OidcOp, startOidcOp } from '../support/oidc-op.js';
import { freePort } from '../support/redis-server.js';
import { selfSignedCertificate } from '../support/tls.js';

// A provider that posts its answer from its own site (response_mode=form_post, as Apple does), in
// a real Chromium. The provider (the certified oidc-provider, which answers form_post with a page
// that submits itself) is on http://localhost, portero on https://127.0.0.1: two sites, since
// cookies ignore ports. Its POST to the callback is cross-site, so it carries only SameSite=None
// cookies: the flow cookie of such a provider must be one, and a redirecting provider's stays Lax.

/** A request that reached portero's callback, as Chromium sent it. */
interface SeenCallback {
  readonly method: string;
  readonly path: string;
  /** Chromium's own word on where the request came from (Fetch Metadata). */
  readonly fetchSite: string | null;
  readonly cookieNames: readonly string[];
}

let op: OidcOp;
let browser: Chromium;
let server: ServerType;
let origin: string;
let foreign: { url: string; close(): Promise<void> };
const callbacks: SeenCallback[] = [];

/** A stranger's page on localhost (another site than portero's): a form posting the given fields to `action`. */
async function startForeignPoster(): Promise<{ url: string; close(): Promise<void> }> {
  const poster: Server = createHttpServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const fields = [...query].filter(([name]) => name !== 'action');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>poster</title></head><body>
<form method="post" action="${escapeHtml(query.get('action') ?? '')}">
${fields.map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('\n')}
<button type="submit">Send</button></form></body></html>`);
  });
  await new Promise<void>((resolve) => poster.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://localhost:${(poster.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => poster.close(() => resolve())),
  };
}

beforeAll(async () => {
  const port = await freePort();
  origin = `https://127.0.0.1:${port}`;
  op = await startOidcOp({ redirectUris: [`${origin}/callback/corp`, `${origin}/callback/plain`], hostName: 'localhost' });
  // One client at the provider, two ways for portero to ask it: `corp` wants the answer posted, `plain` redirected.
  const gateway = await buildTestApp({
    store: memoryStore(),
    env: { PUBLIC_URL: origin, ...op.env('corp'), PROVIDER_CORP_RESPONSE_MODE: 'form_post', ...op.env('plain'), LOG_LEVEL: 'warn' },
  });
  const tls = selfSignedCertificate();
  server = await new Promise<ServerType>((resolve) => {
    const listening: ServerType = serve(
      {
        fetch: (request: Request) => {
          const url = new URL(request.url);
          if (url.pathname.startsWith('/callback/')) {
            callbacks.push({
              method: request.method,
              path: url.pathname,
              fetchSite: request.headers.get('sec-fetch-site'),
              cookieNames: (request.headers.get('cookie') ?? '').split(';').map((pair) => pair.split('=')[0]?.trim() ?? ''),
            });
          }
          return gateway.app.fetch(request);
        },
        port,
        hostname: '127.0.0.1',
        createServer: createHttpsServer,
        serverOptions: { key: tls.key, cert: tls.cert },
      },
      () => resolve(listening),
    );
  });
  foreign = await startForeignPoster();
  browser = await launchChromium({ ignoreHTTPSErrors: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await foreign?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await op?.close();
});

/** The flow cookies Chromium holds for portero now. */
async function flowCookies() {
  return (await browser.context.cookies(origin)).filter((cookie) => cookie.name.startsWith('__Host-portero_flow_'));
}

/** What portero's /userinfo says of the signed-in browser. */
async function userinfo(page: Page): Promise<Record<string, unknown>> {
  const response = await page.goto(`${origin}/userinfo`);
  expect(response?.status()).toBe(200);
  return (await response?.json()) as Record<string, unknown>;
}

describe('a provider that posts its answer from another site (form_post)', () => {
  it('signs the user in: the POST carries the SameSite=None flow cookie, and the Lax token cookie is set', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${origin}/login/corp?return_to=/welcome`);
    await page.waitForURL((url) => url.origin === op.issuer && url.pathname.startsWith('/interaction/'));
    expect(await flowCookies()).toEqual([expect.objectContaining({ sameSite: 'None', secure: true, httpOnly: true, path: '/' })]);

    await page.getByPlaceholder('User name').fill('alice');
    await page.getByPlaceholder('Password').fill(OP_ACCOUNTS.alice?.password ?? '');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    // The provider's page posts the answer itself; portero then sends the browser on to return_to.
    await page.waitForURL(`${origin}/welcome`);

    expect(callbacks).toEqual([
      { method: 'POST', path: '/callback/corp', fetchSite: 'cross-site', cookieNames: [expect.stringMatching(/^__Host-portero_flow_/)] },
    ]);
    expect(await flowCookies(), 'the flow cookie is spent').toEqual([]);
    const token = (await browser.context.cookies(origin)).find((cookie) => cookie.name === '__Host-auth_token');
    expect(token).toMatchObject({ sameSite: 'Lax', secure: true, httpOnly: true });
    expect(await userinfo(page)).toMatchObject({ sub: 'corp:alice', email: OP_ACCOUNTS.alice?.email, provider: 'corp' });
    await page.close();
  });

  it('keeps a redirecting provider’s flow cookie Lax: its GET callback signs in, a cross-site POST to it is refused', async () => {
    callbacks.length = 0;
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    // The provider answers this one by redirect.
    await page.goto(`${origin}/login/plain?return_to=/home`);
    await page.waitForURL(/\/interaction\//);
    expect(await flowCookies()).toEqual([expect.objectContaining({ sameSite: 'Lax', secure: true, httpOnly: true })]);
    await page.getByPlaceholder('User name').fill('alice');
    await page.getByPlaceholder('Password').fill(OP_ACCOUNTS.alice?.password ?? '');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${origin}/home`);
    expect(callbacks.map(({ method, fetchSite }) => ({ method, fetchSite }))).toEqual([{ method: 'GET', fetchSite: 'cross-site' }]);
    expect(await userinfo(page)).toMatchObject({ sub: 'plain:alice' });

    // A login of `plain` stopped before the provider: its Lax flow cookie is in the browser...
    callbacks.length = 0;
    // (started by the browser's own request context, which shares its cookies, so as not to follow the redirect)
    const started = await browser.context.request.get(`${origin}/login/plain`, { maxRedirects: 0 });
    expect(started.status()).toBe(302);
    const state = new URL(started.headers().location ?? '').searchParams.get('state') ?? '';
    expect(state).not.toBe('');
    expect(await flowCookies()).toEqual([expect.objectContaining({ sameSite: 'Lax' })]);
    // ...and a page of another site posting a callback to it does not carry it: no login to finish.
    const fields = new URLSearchParams({ action: `${origin}/callback/plain`, state, code: 'a-code', iss: op.issuer });
    await page.goto(`${foreign.url}/?${fields}`);
    const [answer] = await Promise.all([
      page.waitForResponse((response) => response.url() === `${origin}/callback/plain`),
      page.getByRole('button', { name: 'Send' }).click(),
    ]);
    expect(answer.status()).toBe(400);
    expect(callbacks).toEqual([{ method: 'POST', path: '/callback/plain', fetchSite: 'cross-site', cookieNames: [''] }]);
    expect(await flowCookies(), 'the flow cookie is still there for the real callback').toHaveLength(1);
    await page.close();
  });
});
