import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchChromium, type Chromium } from '../support/chromium.js';
import { startE2eStack, type E2eStack } from '../support/e2e-stack.js';
import { OP_ACCOUNTS } from '../support/oidc-op.js';
import { REPO_ROOT } from '../support/process.js';

// A person with a real browser: Debian's Chromium, driven by playwright-core, in front of the
// production-like stack (two gateway processes on one Redis behind nginx, a real OpenID
// provider with its own login and consent pages). Everything is clicked and typed as a person
// would; what the test checks is what they would see: the page's text and its address.

const SCREENSHOT = join(REPO_ROOT, 'test/artifacts/signed-in.png');

let stack: E2eStack;
let browser: Chromium;
let context: BrowserContext;
let page: Page;
let pages: OtherSites;

/**
 * Pages of other sites, one server reached by two names: `http://localhost:<port>` is another site
 * than portero's `http://127.0.0.1:<port>` (a stranger's page), while `http://127.0.0.1:<port>` is
 * the same site on another port, an app that ALLOWED_REDIRECTS names. Each page links to /logout
 * and holds a form that posts there, with the address of portero they are given in the query.
 */
interface OtherSites {
  readonly foreign: string;
  readonly app: string;
  close(): Promise<void>;
}

async function startOtherSites(): Promise<OtherSites> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const logout = url.searchParams.get('logout') ?? '';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${url.pathname}</title></head><body>
<h1>${url.pathname === '/app' ? 'the app' : 'win a prize'}</h1>
<a href="${logout.replace(/"/g, '&quot;')}">Sign out</a>
<form method="post" action="${logout.replace(/"/g, '&quot;')}"><button type="submit">Claim the prize</button></form>
</body></html>`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    foreign: `http://localhost:${port}`,
    app: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The page's main heading, once it has one. */
const heading = () => page.locator('h1').first().textContent();

/** The sign-in page, and the address it will return to afterwards. */
function signInPageOf(url: string): { at: string; returnTo: string | null } {
  const parsed = new URL(url);
  return { at: parsed.origin + parsed.pathname, returnTo: parsed.searchParams.get('return_to') };
}

/** The protected page, not signed in: portero's sign-in page, which will return there; the app never sees the request. */
async function expectSentToSignIn(appUrl: string, unseen: string): Promise<void> {
  const received = stack.app.requests.length;
  await page.goto(appUrl);
  expect(signInPageOf(page.url())).toEqual({ at: `${stack.url}/`, returnTo: appUrl });
  expect(await heading()).toBe('Sign in');
  expect(stack.app.requests.length, unseen).toBe(received);
}

/** From portero's sign-in page: the provider's button, a mistyped password, her real one, and the consent form. */
async function signInAtProvider(): Promise<void> {
  // The provider's button leads to the provider's own sign-in page.
  const button = page.getByRole('link', { name: 'Continue with Corp SSO' });
  expect(await button.count()).toBe(1);
  await button.click();
  await page.waitForURL((url) => url.origin === stack.op.issuer && url.pathname.startsWith('/interaction/'));
  expect(await heading()).toBe('Sign in to Corp');

  // A mistyped password: the provider says so and asks again.
  await page.getByPlaceholder('User name').fill('alice');
  await page.getByPlaceholder('Password').fill('alice-wrong-horse');
  await page.getByRole('button', { name: 'Sign in' }).click();
  expect(await page.getByRole('alert').textContent()).toBe('Wrong user name or password.');
  expect(new URL(page.url()).origin).toBe(stack.op.issuer);

  // Her real password, then the consent form naming portero.
  await page.getByPlaceholder('User name').fill('alice');
  await page.getByPlaceholder('Password').fill(OP_ACCOUNTS.alice!.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Authorize' }).waitFor();
  expect(await page.locator('body').textContent()).toContain(`${stack.op.clientId} asks for:`);
  await page.getByRole('button', { name: 'Continue' }).click();
}

/** Back on the very page she asked for, query and all, signed in; a screenshot of it in test/artifacts/. */
async function expectSignedInOn(appPath: string): Promise<void> {
  const appUrl = `${stack.url}${appPath}`;
  await page.waitForURL(appUrl);
  expect(page.url()).toBe(appUrl);
  expect(await heading()).toBe('hello corp:alice');
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText(), the text as a person sees it, not the DOM property.
  const text = await page.locator('body').innerText();
  expect(text).toContain(OP_ACCOUNTS.alice!.email);
  expect(text).toContain(appPath);
  expect(text).toContain(`"name": "${OP_ACCOUNTS.alice!.name}"`);
  expect(stack.app.requests.at(-1)?.url).toBe(appPath);
  await mkdir(join(REPO_ROOT, 'test/artifacts'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
}

/** The token cookie: sent with top-level navigation only (Lax), out of reach of page scripts. */
async function expectTokenCookieHidden(): Promise<void> {
  const token = (await context.cookies(stack.url)).find((cookie) => cookie.name === 'auth_token');
  expect(token, 'no auth_token cookie in the browser').toBeDefined();
  expect(token).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
  const readable = await page.evaluate(() => document.cookie);
  expect(readable).not.toContain('auth_token');
  expect(readable).not.toContain(token!.value);
}

/** portero's own page shows who she is and a sign-out button; after it, she is signed out. */
/** The provider's "sign out?" page, where portero's /logout continued (RP-initiated logout): she says yes. */
async function confirmSignOutAtProvider(): Promise<void> {
  await page.waitForURL((url) => url.origin === stack.op.issuer);
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
}

async function signOutAtPortero(): Promise<void> {
  await page.goto(`${stack.url}/`);
  expect(await heading()).toBe(`Signed in as ${OP_ACCOUNTS.alice!.name}`);
  expect(await page.locator('pre').textContent()).toContain('"sub": "corp:alice"');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  // Signed out at the provider too: its own page asks, and sends her back to portero.
  await confirmSignOutAtProvider();
  await page.waitForURL(`${stack.url}/`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  expect(await page.getByRole('link', { name: 'Continue with Corp SSO' }).count()).toBe(1);
  expect((await context.cookies(stack.url)).map((cookie) => cookie.name)).not.toContain('auth_token');
}

describe('a person in a real browser', () => {
  // Should the stack or the browser not start (chromium, nginx or redis-server missing), every test
  // fails with the reason, rather than being skipped.
  let startFailure: unknown;
  beforeAll(async () => {
    pages = await startOtherSites();
    const [started, launched] = await Promise.allSettled([
      startE2eStack({ env: { PROVIDER_CORP_NAME: 'Corp SSO', ALLOWED_REDIRECTS: pages.app } }),
      launchChromium({ viewport: { width: 1000, height: 800 } }),
    ]);
    if (started.status === 'fulfilled') stack = started.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    const failure = [started, launched].find((result) => result.status === 'rejected');
    if (failure) {
      startFailure = failure.reason;
      return;
    }
    context = browser.context;
    context.setDefaultTimeout(10_000);
    page = context.pages()[0] ?? (await context.newPage());
  }, 60_000);
  beforeEach(() => {
    if (startFailure) throw startFailure;
  });
  afterAll(async () => {
    const stopped = await Promise.allSettled([browser?.close(), stack?.stop(), pages?.close()]);
    for (const result of stopped) if (result.status === 'rejected') throw result.reason;
  });

  it('signs in at the provider from a protected page, lands back on it with its query, and signs out', async () => {
    const appPath = '/app/reports?year=2026&q=x';
    const appUrl = `${stack.url}${appPath}`;
    // 1. The protected page sends a stranger to portero's sign-in page, which will return there.
    await expectSentToSignIn(appUrl, 'the app saw a request nginx should have stopped');
    // 2-4. The provider's own sign-in page: a mistyped password, her real one, consent.
    await signInAtProvider();
    // 5. Back on the very page she asked for, query and all, signed in.
    await expectSignedInOn(appPath);
    // 6. The token cookie is out of reach of page scripts.
    await expectTokenCookieHidden();
    // 7. She signs out on portero's own page.
    await signOutAtPortero();
    // 8. The app sends her to sign in again; it never sees the request.
    await expectSentToSignIn(appUrl, 'the app saw a request after sign-out');
  }, 60_000);

  it("is not signed out by another site's link or form, and is by a link on an allowed app of the same site", async () => {
    const appUrl = `${stack.url}/app/after-logout-test`;
    await signInQuickly(appUrl);
    const token = await tokenCookie();
    expect(token).toBeDefined();

    // A stranger's page links to /logout: portero asks, and she stays signed in.
    await page.goto(
      `${pages.foreign}/prize?${new URLSearchParams({ logout: `${stack.url}/logout?return_to=${encodeURIComponent(appUrl)}` })}`,
    );
    await page.getByRole('link', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.origin === stack.url);
    await page.locator('h1').first().waitFor();
    expect(await tokenCookie(), 'signed out by a link on another site').toBe(token);
    expect(new URL(page.url()).pathname).toBe('/logout');
    expect(await heading()).toBe('Sign out?');
    expect(await page.getByRole('button', { name: 'Sign out', exact: true }).count()).toBe(1);
    await expectStillSignedIn(appUrl);

    // Its form posts to /logout: refused, and she stays signed in.
    await page.goto(`${pages.foreign}/prize?${new URLSearchParams({ logout: `${stack.url}/logout` })}`);
    await page.getByRole('button', { name: 'Claim the prize' }).click();
    await page.waitForURL((url) => url.origin === stack.url);
    await page.locator('h1').first().waitFor();
    expect(await tokenCookie(), "signed out by another site's form").toBe(token);
    expect(await heading()).toBe('This request came from another site');
    await expectStillSignedIn(appUrl);

    // The app (same site, allowed) links to /logout: signed out in one click, and back on the app.
    const back = `${pages.app}/app?bye=1`;
    await page.goto(`${pages.app}/app?${new URLSearchParams({ logout: `${stack.url}/logout?return_to=${encodeURIComponent(back)}` })}`);
    await page.getByRole('link', { name: 'Sign out' }).click();
    await confirmSignOutAtProvider();
    await page.waitForURL(back);
    expect(await heading()).toBe('the app');
    expect(await tokenCookie()).toBeUndefined();
    await expectSentToSignIn(appUrl, 'the app saw a request after sign-out');
  }, 60_000);
});

/** The token cookie's value in the browser, if it has one. */
async function tokenCookie(): Promise<string | undefined> {
  return (await context.cookies(stack.url)).find((cookie) => cookie.name === 'auth_token')?.value;
}

/** The protected page greets her: she is signed in. */
async function expectStillSignedIn(appUrl: string): Promise<void> {
  await page.goto(appUrl);
  expect(page.url()).toBe(appUrl);
  expect(await heading()).toBe('hello corp:alice');
}

/** Signs in from the protected page; the provider may remember her (no password, no consent) or ask again. */
async function signInQuickly(appUrl: string): Promise<void> {
  await page.goto(appUrl);
  await page.getByRole('link', { name: 'Continue with Corp SSO' }).click();
  const user = page.getByPlaceholder('User name');
  const consent = page.getByRole('button', { name: 'Continue' });
  const next = async () => {
    await Promise.race([page.waitForURL(appUrl), user.waitFor(), consent.waitFor()]);
    return page.url() === appUrl ? 'done' : (await user.count()) > 0 ? 'login' : 'consent';
  };
  let step = await next();
  if (step === 'login') {
    await user.fill('alice');
    await page.getByPlaceholder('Password').fill(OP_ACCOUNTS.alice!.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    step = await next();
  }
  if (step === 'consent') await consent.click();
  await page.waitForURL(appUrl);
  expect(await heading()).toBe('hello corp:alice');
}
