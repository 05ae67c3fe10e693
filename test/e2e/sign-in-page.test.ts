import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorTable } from '../../src/http/error-table.js';
import { type Chromium, launchChromium } from '../support/chromium.js';
import { type GatewayProcess, REPO_ROOT, startGateway } from '../support/process.js';
import { freePort } from '../support/redis-server.js';

// The sign-in page as a person meets it in a real browser, with JavaScript off (nothing of
// portero's needs it): several providers, each with its mark and name; the operator's product
// name and logo; every provider link reached with Tab, its focus visible; readable on a phone.
// Screenshots of it at desktop and phone widths go to test/artifacts/.

const ARTIFACTS = join(REPO_ROOT, 'test/artifacts');
const BRAND_NAME = 'Acme <Tools> & Co';

/** The operator's logo, on another origin than portero's; the server says which paths were asked for. */
const LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48" width="48" height="48"><rect width="48" height="48" rx="10" fill="#0f766e"/><path d="M24 9L39 38H9Z" fill="#fff"/></svg>';

interface LogoServer {
  readonly logoUrl: string;
  /** An address on it that is no OpenID issuer (discovery answers 404). */
  readonly noIssuer: string;
  readonly requested: string[];
  close(): Promise<void>;
}

async function startLogoServer(): Promise<LogoServer> {
  const requested: string[] = [];
  const server: Server = createServer((req, res) => {
    requested.push(req.url ?? '');
    if (req.url === '/brand/logo.svg') {
      res.writeHead(200, { 'content-type': 'image/svg+xml' });
      res.end(LOGO_SVG);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    // `localhost`, not portero's 127.0.0.1: another origin, which only the CSP's img-src lets in.
    logoUrl: `http://localhost:${port}/brand/logo.svg`,
    noIssuer: `http://127.0.0.1:${port}/no-issuer`,
    requested,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The providers configured, as the page should list them (sorted by id): link name and id. */
const EXPECTED = [
  { id: 'corp', name: 'Continue with Corp SSO' },
  { id: 'github', name: 'Continue with GitHub' },
  { id: 'google', name: 'Continue with Google' },
  { id: 'microsoft', name: 'Continue with Microsoft' },
  { id: 'partner', name: 'Continue with login.partner.example' },
  { id: 'wiki', name: 'Continue with sso.wiki.example' },
];

/** Google, GitHub, Microsoft, a named and an unnamed OIDC provider, a plain OAuth 2.0 one; issuers on the logo server, so that nothing is fetched off this machine. */
function providersEnv(noIssuer: string): Record<string, string> {
  return {
    PROVIDER_GOOGLE_CLIENT_ID: 'g',
    PROVIDER_GOOGLE_CLIENT_SECRET: 'g-secret',
    PROVIDER_GOOGLE_ISSUER: `${noIssuer}/google`,
    PROVIDER_GITHUB_CLIENT_ID: 'gh',
    PROVIDER_GITHUB_CLIENT_SECRET: 'gh-secret',
    PROVIDER_MICROSOFT_CLIENT_ID: 'ms',
    PROVIDER_MICROSOFT_CLIENT_SECRET: 'ms-secret',
    PROVIDER_MICROSOFT_ISSUER: `${noIssuer}/6f2a3b4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c/v2.0`,
    PROVIDER_CORP_TYPE: 'oidc',
    PROVIDER_CORP_CLIENT_ID: 'corp',
    PROVIDER_CORP_ISSUER: `${noIssuer}/corp`,
    PROVIDER_CORP_NAME: 'Corp SSO',
    // Unnamed: the page says its issuer's host. A reserved name (RFC 2606) that resolves nowhere.
    PROVIDER_WIKI_TYPE: 'oidc',
    PROVIDER_WIKI_CLIENT_ID: 'wiki',
    PROVIDER_WIKI_ISSUER: 'https://sso.wiki.example/realms/wiki',
    PROVIDER_PARTNER_TYPE: 'oauth2',
    PROVIDER_PARTNER_CLIENT_ID: 'partner',
    PROVIDER_PARTNER_AUTHORIZATION_URL: 'https://login.partner.example/oauth/authorize',
    PROVIDER_PARTNER_TOKEN_URL: 'https://login.partner.example/oauth/token',
    PROVIDER_PARTNER_USERINFO_URL: 'https://login.partner.example/me',
  };
}

let logo: LogoServer;
let gateway: GatewayProcess;
let publicUrl: string;
let browser: Chromium;
let page: Page;

/** The `href` of the element that has the keyboard focus. */
const focusedHref = () => page.locator(':focus').getAttribute('href');

describe('the sign-in page in a real browser, without JavaScript', () => {
  let startFailure: unknown;
  beforeAll(async () => {
    try {
      logo = await startLogoServer();
      const port = await freePort();
      publicUrl = `http://127.0.0.1:${port}`;
      const env = { ...providersEnv(logo.noIssuer), PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: publicUrl, PROVIDER_TIMEOUT: '2' };
      const [started, launched] = await Promise.all([
        startGateway({ env: { ...env, BRAND_NAME, BRAND_LOGO_URL: logo.logoUrl } }),
        launchChromium({ viewport: { width: 1000, height: 760 }, javaScriptEnabled: false }),
      ]);
      gateway = started;
      browser = launched;
      browser.context.setDefaultTimeout(10_000);
      page = browser.context.pages()[0] ?? (await browser.context.newPage());
    } catch (err) {
      startFailure = err;
    }
  }, 60_000);
  beforeEach(() => {
    if (startFailure) throw startFailure;
  });
  afterAll(async () => {
    const stopped = await Promise.allSettled([browser?.close(), gateway?.stop(), logo?.close()]);
    for (const result of stopped) if (result.status === 'rejected') throw result.reason;
  });

  it('lists every provider by name with its link, under the operator’s name and logo, and Tab reaches each link', async () => {
    const refused: string[] = [];
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) refused.push(message.text());
    });
    await page.goto(`${publicUrl}/?return_to=%2Freports`);
    expect(await page.title()).toBe(`Sign in · ${BRAND_NAME}`);
    // The stylesheet applied (its hash is what the CSP allows), and nothing on the page was refused.
    expect(await page.locator('body').evaluate((element) => getComputedStyle(element).backgroundColor)).toBe('rgb(238, 241, 245)');
    expect(refused).toEqual([]);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in');
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText(), the text as a person sees it.
    expect(await page.locator('header').innerText()).toBe(BRAND_NAME);

    // The logo, from its own origin, shown: the CSP let it in.
    const image = page.locator('header img');
    expect(await image.getAttribute('src')).toBe(logo.logoUrl);
    expect(await image.evaluate((element: HTMLImageElement) => element.complete && element.naturalWidth)).toBe(48);
    expect(logo.requested).toContain('/brand/logo.svg');

    // Each provider: one link, its name, its login with the return address; each with a mark.
    const links = page.getByRole('link', { name: /^Continue with / });
    expect(await links.count()).toBe(EXPECTED.length);
    for (const [index, { id, name }] of EXPECTED.entries()) {
      const link = links.nth(index);
      expect(await link.textContent()).toBe(name);
      expect(await link.getAttribute('href')).toBe(`/login/${id}?return_to=%2Freports`);
      expect(await link.locator('svg').count(), `${id}'s mark`).toBe(1);
    }
    expect(await page.locator('body').textContent()).not.toContain('OpenID Connect');

    // The keyboard: Tab goes from one provider to the next, in the order shown, the focus outlined.
    await page.locator('body').focus();
    for (const { id } of EXPECTED) {
      await page.keyboard.press('Tab');
      expect(await focusedHref()).toBe(`/login/${id}?return_to=%2Freports`);
      const outline = await page.locator(':focus').evaluate((element) => getComputedStyle(element).outlineStyle);
      expect(outline).toBe('solid');
    }

    // With the focus ring on the last link, as a keyboard user sees it.
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'sign-in.png'), fullPage: true });
  }, 30_000);

  it('fits a phone’s width: nothing wider than the screen, every link whole', async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    try {
      await page.goto(`${publicUrl}/`);
      const width = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      expect(width[0]).toBeLessThanOrEqual(width[1] ?? 0);
      for (const index of EXPECTED.keys()) {
        const box = await page
          .getByRole('link', { name: /^Continue with / })
          .nth(index)
          .boundingBox();
        expect(box?.x).toBeGreaterThanOrEqual(0);
        expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(375);
        // Big enough for a finger.
        expect(box?.height).toBeGreaterThanOrEqual(44);
      }
      await page.screenshot({ path: join(ARTIFACTS, 'sign-in-phone.png'), fullPage: true });
    } finally {
      await page.setViewportSize({ width: 1000, height: 760 });
    }
  }, 30_000);

  it('follows a provider link from the keyboard; a provider that cannot be reached gives a page of the same look with a way back', async () => {
    await page.goto(`${publicUrl}/`);
    await page.locator('body').focus();
    await page.keyboard.press('Tab');
    expect(await focusedHref()).toBe('/login/corp');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${publicUrl}/login/corp`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(errorTable.provider_unavailable.title);
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText(), the text as a person sees it.
    expect(await page.locator('header').innerText()).toBe(BRAND_NAME);
    await page.screenshot({ path: join(ARTIFACTS, 'provider-unavailable.png'), fullPage: true });

    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').textContent()).toBe('Start again');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${publicUrl}/`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in');
  }, 30_000);
});
