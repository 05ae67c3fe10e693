import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { startLogin } from '../../src/flow/login.js';
import { flowDepsFor } from '../support/flow.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { buildTestApp, memoryStore, PRODUCTION_ENV } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';
import { startupProblems } from '../support/config.js';

// Google at the network edge: its real issuer, discovered as openid-client discovers it.
const google = await new MockOidcProvider('https://accounts.google.com').init();
const msw = setupServer(...google.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = { PROVIDER_GOOGLE_CLIENT_ID: google.clientId, PROVIDER_GOOGLE_CLIENT_SECRET: google.clientSecret };

providerContract('google', oidcHarness(google, 'google', ENV), msw);

describe('google provider', () => {
  it('needs only the client id and secret: the issuer is Google’s, found by discovery', async () => {
    const deps = flowDepsFor(ENV);
    const { authorizationUrl } = await startLogin(deps, 'google', undefined);
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe('https://accounts.google.com/authorize');
    expect(parseConfig(ENV).providers[0]).toMatchObject({ id: 'google', type: 'google', issuer: 'https://accounts.google.com' });
  });

  it('refuses to start without a client secret, and with a setting Google does not take', () => {
    const refused = startupProblems;
    expect(refused({ PROVIDER_GOOGLE_CLIENT_ID: 'g' })).toEqual(['PROVIDER_GOOGLE_CLIENT_SECRET is required for Google']);
    expect(refused({ ...ENV, PROVIDER_GOOGLE_TOKEN_URL: 'https://example.com/token' })).toEqual([
      expect.stringMatching(
        /^PROVIDER_GOOGLE_TOKEN_URL is not a setting of Google \(its settings: PROVIDER_GOOGLE_CLIENT_ID, .*PROVIDER_GOOGLE_ISSUER, PROVIDER_GOOGLE_HOSTED_DOMAIN\)$/,
      ),
    ]);
  });
});

describe('google with a hosted domain (Google Workspace)', () => {
  const WORKSPACE = { ...ENV, PROVIDER_GOOGLE_HOSTED_DOMAIN: 'Company.com' };

  /** A sign-in through a real app as a Google user whose ID token says `hd`. */
  async function signIn(hd: string | undefined) {
    const gateway = await buildTestApp({ store: memoryStore(), env: WORKSPACE });
    const browser = new TestBrowser();
    const login = await browser.get(gateway.app, 'https://gateway.test/login/google');
    const location = new URL(login.headers.get('location')!);
    const claims = { email: 'ada@company.com', email_verified: true, ...(hd ? { hd } : {}) };
    const done = await browser.get(gateway.app, `https://gateway.test/callback/google?${google.authorize(location, { sub: '1', claims })}`);
    return { gateway, location, done, token: await browser.cookie('https://gateway.test', '__Host-auth_token') };
  }

  it('asks Google for accounts of that domain (hd), and lets in an ID token whose hd is it', async () => {
    const { location, done, token } = await signIn('company.com');
    expect(location.searchParams.get('hd')).toBe('company.com');
    expect(done.status).toBe(302);
    expect(token).toBeDefined();
  });

  it('refuses, with the 403 page and no token, an ID token of another domain or of a personal account (no hd)', async () => {
    for (const hd of ['evil.com', undefined]) {
      const { gateway, done, token } = await signIn(hd);
      expect(done.status, String(hd)).toBe(403);
      const page = await done.text();
      expect(page, page).toContain('You signed in as <strong>ada@company.com</strong>');
      expect(token).toBeUndefined();
      expect(gateway.logs.lines.find((line) => line.error === 'not_allowed')).toMatchObject({ rule: 'PROVIDER_GOOGLE_HOSTED_DOMAIN' });
    }
  });

  it('is no public provider then: production starts without another rule', () => {
    expect(parseConfig({ ...PRODUCTION_ENV, ...WORKSPACE }).providers[0]).toMatchObject({ hostedDomain: 'company.com' });
    expect(() => parseConfig({ ...PRODUCTION_ENV, ...ENV })).toThrow(/provider google lets every account/);
  });
});
