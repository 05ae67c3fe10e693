import { createHash } from 'node:crypto';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorTable } from '../../src/http/error-table.js';
import type { PageContext } from '../../src/http/layout.js';
import { FAVICON_SVG, MARKED_TYPES, providerMark } from '../../src/http/marks.js';
import { errorPage, signedInPage, signInPage, signOutConfirmPage } from '../../src/http/pages.js';
import { buildTestApp, memoryStore } from '../support/app.js';
import { unescapeHtml } from '../support/html.js';

// No handler at all: rendering the sign-in page, its marks and the favicon fetches nothing.
const msw = setupServer();
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

/** What the sign-in page shows with google, github, microsoft, two generic OIDC providers (one named) and a plain OAuth 2.0 one. */
const SEVERAL_PROVIDERS = {
  PROVIDER_GOOGLE_CLIENT_ID: 'g',
  PROVIDER_GOOGLE_CLIENT_SECRET: 'g-secret',
  PROVIDER_GITHUB_CLIENT_ID: 'gh',
  PROVIDER_GITHUB_CLIENT_SECRET: 'gh-secret',
  PROVIDER_MICROSOFT_CLIENT_ID: 'ms',
  PROVIDER_MICROSOFT_CLIENT_SECRET: 'ms-secret',
  PROVIDER_MICROSOFT_ISSUER: 'https://login.microsoftonline.com/6f2a3b4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c/v2.0',
  PROVIDER_CORP_TYPE: 'oidc',
  PROVIDER_CORP_CLIENT_ID: 'corp',
  PROVIDER_CORP_ISSUER: 'https://idp.corp.example/realms/staff',
  PROVIDER_CORP_NAME: 'Corp SSO',
  PROVIDER_WIKI_TYPE: 'oidc',
  PROVIDER_WIKI_CLIENT_ID: 'wiki',
  PROVIDER_WIKI_ISSUER: 'https://sso.wiki.example:8443/realms/wiki',
  PROVIDER_PARTNER_TYPE: 'oauth2',
  PROVIDER_PARTNER_CLIENT_ID: 'partner',
  PROVIDER_PARTNER_AUTHORIZATION_URL: 'https://login.partner.example/oauth/authorize',
  PROVIDER_PARTNER_TOKEN_URL: 'https://api.partner.example/oauth/token',
  PROVIDER_PARTNER_USERINFO_URL: 'https://api.partner.example/me',
};

/** The 15 presets of issue 8 with a mark of their own, by `ProviderDefinition.type`. */
const PRESET_TYPES = [
  'google',
  'github',
  'microsoft',
  'apple',
  'gitlab',
  'facebook',
  'discord',
  'linkedin',
  'slack',
  'twitch',
  'bitbucket',
  'keycloak',
  'okta',
  'auth0',
  'authentik',
];

async function get(env: Record<string, string>, path = '/') {
  const gateway = await buildTestApp({ store: memoryStore(), env });
  const response = await gateway.app.request(`https://gateway.test${path}`, { headers: { accept: 'text/html' } });
  return { response, page: await response.text() };
}

/** The provider links of a sign-in page: where each goes, the name a person reads, and the mark beside it. */
function providerLinks(page: string) {
  return [...page.matchAll(/<a class="button" href="([^"]*)">(<svg[\s\S]*?<\/svg>)<span>([^<]*)<\/span><\/a>/g)].map(
    ([, href, mark, name]) => ({
      href: unescapeHtml(href ?? ''),
      name: unescapeHtml(name ?? ''),
      mark,
    }),
  );
}

/** The directives of a Content-Security-Policy, by name. */
const directives = (csp: string) =>
  new Map(
    csp
      .split(';')
      .map((part) => part.trim().split(/\s+/) as [string, ...string[]])
      .map(([name, ...values]) => [name, values]),
  );

const PAGE: PageContext = { basePath: '', brand: { name: 'portero' } };
const CLAIMS = { iss: 'https://gateway.test', sub: 'corp:alice', iat: 1, exp: 2, jti: 'j', sid: 's', provider: 'corp', name: 'Alice' };

/** Every page portero renders (but the sign-in page without providers, which start-up never allows outside development's built-in IdP). */
async function everyPage(page: PageContext) {
  return {
    'sign-in': String(await signInPage(page, [{ id: 'corp', displayName: 'Corp', type: 'oidc' }])),
    'signed in': String(await signedInPage(page, CLAIMS)),
    'sign out?': String(await signOutConfirmPage(page, undefined)),
    ...Object.fromEntries(
      await Promise.all(
        Object.entries(errorTable).map(async ([code, presentation]) => [
          code,
          String(await errorPage(page, presentation, 'req-1', 'a@b.example')),
        ]),
      ),
    ),
  } as Record<string, string>;
}

describe('the sign-in page', () => {
  it('lists each provider with its name, its mark and a link to its login; a generic one by its host, never "OpenID Connect"', async () => {
    const { response, page } = await get(SEVERAL_PROVIDERS, '/?return_to=%2Freports');
    expect(response.status).toBe(200);
    const links = providerLinks(page);
    expect(links.map(({ href, name }) => ({ href, name }))).toEqual([
      { href: '/login/corp?return_to=%2Freports', name: 'Continue with Corp SSO' },
      { href: '/login/github?return_to=%2Freports', name: 'Continue with GitHub' },
      { href: '/login/google?return_to=%2Freports', name: 'Continue with Google' },
      { href: '/login/microsoft?return_to=%2Freports', name: 'Continue with Microsoft' },
      { href: '/login/partner?return_to=%2Freports', name: 'Continue with login.partner.example' },
      { href: '/login/wiki?return_to=%2Freports', name: 'Continue with sso.wiki.example:8443' },
    ]);
    expect(page).not.toContain('OpenID Connect');
    expect(page).not.toContain('OAuth 2.0');
    // Each by its type: the presets' own marks, the generic key for oidc and oauth2.
    const markOf = Object.fromEntries(links.map(({ href, mark }) => [href.split(/[/?]/)[2], mark]));
    expect(markOf).toEqual({
      corp: String(providerMark('oidc')),
      github: String(providerMark('github')),
      google: String(providerMark('google')),
      microsoft: String(providerMark('microsoft')),
      partner: String(providerMark('oauth2')),
      wiki: String(providerMark('oidc')),
    });
  });

  it('shows the operator’s product name and logo, escaped', async () => {
    const { page } = await get({
      ...SEVERAL_PROVIDERS,
      BRAND_NAME: 'Acme <b>Tools</b> & "Co"',
      BRAND_LOGO_URL: 'https://cdn.acme.example/brand/logo.svg?v="2"&x=<y>',
    });
    expect(page).toContain('<title>Sign in · Acme &lt;b&gt;Tools&lt;/b&gt; &amp; &quot;Co&quot;</title>');
    expect(page).toContain(
      '<header class="brand"><img src="https://cdn.acme.example/brand/logo.svg?v=%222%22&amp;x=%3Cy%3E" alt=""><span>Acme &lt;b&gt;Tools&lt;/b&gt; &amp; &quot;Co&quot;</span></header>',
    );
    expect(page).not.toContain('<b>');
  });

  it('escapes a provider’s name', async () => {
    const { page } = await get({ ...SEVERAL_PROVIDERS, PROVIDER_CORP_NAME: '<img src=x onerror=alert(1)> "Corp" & co' });
    expect(page).toContain('<span>Continue with &lt;img src=x onerror=alert(1)&gt; &quot;Corp&quot; &amp; co</span>');
    expect(page).not.toContain('<img');
    expect(providerLinks(page)[0]?.name).toBe('Continue with <img src=x onerror=alert(1)> "Corp" & co');
  });

  it('says portero, and shows no logo, by default', async () => {
    const { page } = await get(SEVERAL_PROVIDERS);
    expect(page).toContain('<title>Sign in · portero</title>');
    expect(page).toContain('<header class="brand"><span>portero</span></header>');
  });
});

describe('the provider marks', () => {
  it('give each preset a mark of its own, and oidc, oauth2 or an unknown type the generic one', () => {
    const marks = PRESET_TYPES.map((type) => String(providerMark(type)));
    expect(new Set(marks).size).toBe(PRESET_TYPES.length);
    expect(marks).not.toContain(String(providerMark('oidc')));
    expect([...MARKED_TYPES].sort()).toEqual([...PRESET_TYPES].sort());
    expect(String(providerMark('oauth2'))).toBe(String(providerMark('oidc')));
    expect(String(providerMark('something-new'))).toBe(String(providerMark('oidc')));
    // An own property only: `constructor` is no mark.
    expect(String(providerMark('constructor'))).toBe(String(providerMark('oidc')));
  });

  it('are inline SVG, hidden from screen readers (the link says the name), that load nothing and need no style attribute', () => {
    for (const type of [...PRESET_TYPES, 'oidc']) {
      const mark = String(providerMark(type));
      expect(mark).toMatch(/^<svg class="mark" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">.+<\/svg>$/);
      // Anything that fetches (href, src, url(...)) or that the CSP's hashed stylesheet would block (style).
      expect(mark, type).not.toMatch(/href|src=|url\(|style|<script|<image|<foreignObject/i);
    }
  });
});

describe('every page', () => {
  it('shares one layout: the brand, the favicon, the one hashed stylesheet, no script, and a way forward', async () => {
    const pages = await everyPage({ basePath: '/sso', brand: { name: 'Acme', logoUrl: 'https://cdn.acme.example/logo.png' } });
    for (const [name, page] of Object.entries(pages)) {
      expect(page, name).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
      expect(page, name).toContain('<header class="brand"><img src="https://cdn.acme.example/logo.png" alt=""><span>Acme</span></header>');
      expect(page, name).toContain('<link rel="icon" href="/sso/favicon.svg" type="image/svg+xml">');
      expect(page.match(/<style>/g), name).toHaveLength(1);
      expect(page, name).not.toMatch(/<script|\sstyle=|\son[a-z]+=/i);
      // A way forward: a link to the sign-in page or a provider, or a button that signs out.
      expect(page, name).toMatch(
        /<a class="button[^"]*" href="\/sso\/[^"]*">|<button class="button primary" type="submit">Sign out<\/button>/,
      );
    }
  });

  it('titles itself with the brand', async () => {
    const pages = await everyPage(PAGE);
    expect(pages.not_allowed).toContain('<title>This account may not sign in here · portero</title>');
    expect(pages.rate_limited).toContain('<a class="button primary" href="/">Start again</a>');
    expect(pages['signed in']).toContain(
      '<form method="post" action="/logout"><button class="button primary" type="submit">Sign out</button></form>',
    );
  });
});

describe('the Content-Security-Policy of pages', () => {
  it('allows the one stylesheet by its hash, no inline style or script, and images from portero only', async () => {
    const { response, page } = await get(SEVERAL_PROVIDERS);
    const csp = directives(response.headers.get('content-security-policy') ?? '');
    const stylesheet = /<style>([\s\S]*?)<\/style>/.exec(page)?.[1] ?? '';
    expect(stylesheet.length).toBeGreaterThan(100);
    expect(csp.get('style-src')).toEqual([`'sha256-${createHash('sha256').update(stylesheet).digest('base64')}'`]);
    expect(csp.get('default-src')).toEqual(["'none'"]);
    expect(csp.has('script-src')).toBe(false);
    expect(csp.get('img-src')).toEqual(["'self'"]);
    expect(response.headers.get('content-security-policy')).not.toMatch(/unsafe|data:|\*/);
  });

  it('allows BRAND_LOGO_URL exactly: that image, not its origin nor its folder', async () => {
    const { response } = await get({ ...SEVERAL_PROVIDERS, BRAND_LOGO_URL: 'https://cdn.acme.example/brand/logo.svg?v=2' });
    expect(directives(response.headers.get('content-security-policy') ?? '').get('img-src')).toEqual([
      "'self'",
      'https://cdn.acme.example/brand/logo.svg',
    ]);
  });

  it("percent-encodes a logo path's ; and , which would otherwise end the directive or the policy", async () => {
    const { response } = await get({ ...SEVERAL_PROVIDERS, BRAND_LOGO_URL: "https://cdn.acme.example/a;script-src 'unsafe-inline',b.svg" });
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(directives(csp).get('img-src')).toEqual(["'self'", "https://cdn.acme.example/a%3Bscript-src%20'unsafe-inline'%2Cb.svg"]);
    expect(directives(csp).has('script-src')).toBe(false);
  });

  it("takes no directive from a logo host's ; either: a logo whose origin is no CSP source is not allowed at all", async () => {
    const { response } = await get({ ...SEVERAL_PROVIDERS, BRAND_LOGO_URL: 'https://cdn.acme.example;sandbox/logo.svg' });
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(directives(csp).get('img-src')).toEqual(["'self'"]);
    expect(directives(csp).has('sandbox')).toBe(false);
  });
});

describe('the favicon', () => {
  it('is an SVG served under the security headers, cached for a day, and linked from every page under PUBLIC_URL’s path', async () => {
    const { response, page } = await get({ ...SEVERAL_PROVIDERS, PUBLIC_URL: 'https://gateway.test/sso' }, '/sso/favicon.svg');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/svg+xml');
    expect(response.headers.get('cache-control')).toBe('public, max-age=86400');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    expect(page).toBe(FAVICON_SVG);
    expect(page).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 32 32">.*<\/svg>$/);
    const signIn = await get({ ...SEVERAL_PROVIDERS, PUBLIC_URL: 'https://gateway.test/sso' }, '/sso/');
    expect(signIn.page).toContain('<link rel="icon" href="/sso/favicon.svg" type="image/svg+xml">');
  });
});
