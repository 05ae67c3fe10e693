import { decodeJwt } from 'jose';
import { http, passthrough } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROFILE_UNAVAILABLE } from '../../src/errors.js';
import { buildTestApp, type IsolatedRedisStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { FakeGhes, type GhesUser } from '../support/fake-ghes.js';
import { redisForThisFile } from '../support/store-under-test.js';
import { type ProviderHarness, providerContract } from './contract.js';

// The github preset against a GitHub Enterprise Server over real sockets (test/support/fake-ghes.ts),
// configured as an operator would: PROVIDER_GHE_TYPE=github and PROVIDER_GHE_URL, nothing else.

const GATEWAY = 'https://gateway.test';
const TOKEN_COOKIE = '__Host-auth_token';
const ghes = await FakeGhes.start({ callbackUrl: `${GATEWAY}/callback/ghe` });
// Requests to the server pass through msw to its socket. Any other (api.github.com above all) is
// an error of the test, and the contract's unreachable provider is msw cutting the network.
const msw = setupServer(http.all(`${ghes.origin}/*`, () => passthrough()));
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(async () => {
  msw.close();
  await ghes.close();
});

const ADA: GhesUser = {
  id: 4242,
  login: 'ada',
  name: 'Ada Lovelace',
  // Her public email, which she may set to any of her addresses: never the token's.
  email: 'ada.public@example.org',
  avatar_url: `${ghes.origin}/avatars/u/4242`,
  node_id: 'MDQ6VXNlcjQyNDI=',
  type: 'User',
  site_admin: false,
};

/** The preset on the fake server, as the shared provider suite drives it: the user answers its real authorization page. */
function ghesHarness(): ProviderHarness {
  let refusing = false;
  let corrupted = false;
  return {
    id: 'ghe',
    env: ghes.env('ghe'),
    protocol: 'oauth2',
    authorizationEndpoint: `${ghes.origin}/login/oauth/authorize`,
    clientId: ghes.clientId,
    scope: 'read:user user:email',
    // GitHub refuses a code that expired or was used with HTTP 200 and this error.
    refusal: 'bad_verification_code',
    async approve(url, user) {
      const { id: _id, ...withoutId } = ADA;
      ghes.user = { ...(corrupted ? withoutId : { ...ADA, id: Number(user.subject) }), login: user.username, name: user.name };
      ghes.emails = [{ email: user.email, primary: true, verified: true, visibility: 'private' }];
      const callback = await ghes.authorize(new TestBrowser(), url, 'authorize');
      if (refusing) ghes.expireCodes();
      return callback.searchParams;
    },
    exchanges: () => ghes.requests.filter((route) => route === 'POST /login/oauth/access_token').length,
    refuseExchange() {
      refusing = true;
    },
    corrupt() {
      // /user without the numeric id every account has: no stable subject to sign in.
      corrupted = true;
      return PROFILE_UNAVAILABLE;
    },
    reset() {
      refusing = false;
      corrupted = false;
    },
  };
}

providerContract('github (GitHub Enterprise Server over HTTP)', ghesHarness(), msw);

const redis = redisForThisFile();
let gateway: TestApp & { view: IsolatedRedisStore };

async function gatewayWith(env: Record<string, string> = {}): Promise<TestApp & { view: IsolatedRedisStore }> {
  const view = await redis.isolated();
  return { ...(await buildTestApp({ store: view.store, env: { ...ghes.env('ghe'), ...env } })), view };
}

beforeEach(async () => {
  ghes.reset();
  ghes.user = ADA;
  ghes.emails = [
    { email: 'ada@old.example', primary: false, verified: true, visibility: null },
    { email: 'ada@corp.example', primary: true, verified: true, visibility: 'private' },
  ];
  ghes.orgs = [{ login: 'Acme', id: 1 }];
  ghes.teams = [{ slug: 'platform', organization: { login: 'acme' } }];
  gateway = await gatewayWith();
});

/**
 * A whole sign-in in one browser: portero's /login, the server's authorization page answered with
 * `decision` (then `between`, before the browser comes back), and the callback, from the server's site.
 */
async function signIn(decision: 'authorize' | 'cancel' = 'authorize', between?: () => void) {
  const browser = new TestBrowser();
  const login = await browser.get(gateway.app, `${GATEWAY}/login/ghe?return_to=/after`);
  expect(login.status).toBe(302);
  const callback = await ghes.authorize(browser, login.headers.get('location')!, decision);
  expect(callback.origin + callback.pathname).toBe(`${GATEWAY}/callback/ghe`);
  between?.();
  const response = await browser.get(gateway.app, callback, undefined, { from: ghes.origin });
  return { response, callback, token: (await browser.cookie(GATEWAY, TOKEN_COOKIE))?.value };
}

const flowsLeft = () => gateway.view.raw.keys(`${gateway.view.prefix}flow:*`);
const errorLine = () => gateway.logs.lines.filter((line) => line.error).at(-1);

/**
 * The sign-in ended on a page a person understands, with a way to start again; no stack trace, and
 * nothing GitHub handed out (the client secret, a code, an access token) on it or in the log; no
 * token cookie, and no flow left in the store.
 */
async function expectCleanPage(signedIn: Awaited<ReturnType<typeof signIn>>, status: number, title: string) {
  const { response, token } = signedIn;
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain('text/html');
  const page = await response.text();
  expect(page).toContain(`<title>${title}`);
  expect(page).toContain('<a class="button primary" href="/">Start again</a>');
  expect(page).not.toMatch(/\bat .*\.[jt]s:\d+/);
  const log = gateway.logs.raw.join('\n');
  expect(ghes.secrets.length).toBeGreaterThan(1);
  for (const secret of ghes.secrets) {
    expect(page).not.toContain(secret);
    expect(log).not.toContain(secret);
  }
  expect(response.headers.getSetCookie().some((line) => line.startsWith(`${TOKEN_COOKIE}=`))).toBe(false);
  expect(token).toBeUndefined();
  expect(await flowsLeft()).toEqual([]);
  return page;
}

describe('signing in at a GitHub Enterprise Server (PROVIDER_GHE_URL)', () => {
  it('issues a token: the numeric id as subject, the login as user name, the primary verified address', async () => {
    const { response, token } = await signIn();
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`${GATEWAY}/after`);
    expect(decodeJwt(token!)).toMatchObject({
      sub: 'ghe:4242',
      provider: 'ghe',
      preferred_username: 'ada',
      name: 'Ada Lovelace',
      email: 'ada@corp.example',
      email_verified: true,
      picture: `${ghes.origin}/avatars/u/4242`,
    });
    expect(ghes.requests).toEqual([
      'GET /login/oauth/authorize',
      'POST /login/oauth/authorize',
      'POST /login/oauth/access_token',
      'GET /api/v3/user',
      'GET /api/v3/user/emails',
    ]);
    expect(await flowsLeft()).toEqual([]);
  });

  it('carries no address when the primary one is unverified, not even a verified secondary one', async () => {
    // The primary address is the one the user chose GitHub to use; another, though verified, is
    // not theirs to be known by here. So no email rather than a guess; email rules then refuse.
    ghes.emails = [
      { email: 'ada@unverified.example', primary: true, verified: false, visibility: 'private' },
      { email: 'ada@corp.example', primary: false, verified: true, visibility: null },
    ];
    const { response, token } = await signIn();
    expect(response.status).toBe(302);
    const claims = decodeJwt(token!);
    expect(claims).toMatchObject({ sub: 'ghe:4242', preferred_username: 'ada' });
    expect(claims).not.toHaveProperty('email');
    expect(claims).not.toHaveProperty('email_verified');

    gateway = await gatewayWith({ PROVIDER_GHE_ALLOWED_EMAIL_DOMAINS: 'corp.example' });
    const refused = await signIn();
    await expectCleanPage(refused, 403, 'This account may not sign in here');
    expect(errorLine()).toMatchObject({ error: 'not_allowed', rule: 'PROVIDER_GHE_ALLOWED_EMAIL_DOMAINS', reason: 'no verified email' });
  });

  it('asks the organisations and teams of the server, not of api.github.com (msw refuses any other host)', async () => {
    gateway = await gatewayWith({ PROVIDER_GHE_ALLOWED_ORGS: 'acme/platform' });
    const { response, token } = await signIn();
    expect(response.status).toBe(302);
    expect(token).toBeDefined();
    expect(ghes.requests.slice(-2)).toEqual(['GET /api/v3/user/orgs', 'GET /api/v3/user/teams']);

    gateway = await gatewayWith({ PROVIDER_GHE_ALLOWED_ORGS: 'acme/security' });
    const page = await expectCleanPage(await signIn(), 403, 'This account may not sign in here');
    expect(page).toContain('<strong>ada</strong>');
    expect(errorLine()).toMatchObject({ rule: 'PROVIDER_GHE_ALLOWED_ORGS', reason: 'in no allowed org' });
  });
});

describe('a sign-in the server refuses or breaks ends on a clean page, without a token', () => {
  const REFUSED = 'The sign-in provider did not accept the login';

  it('a code that expired before the browser came back: 200 {"error": "bad_verification_code"}', async () => {
    await expectCleanPage(await signIn('authorize', () => ghes.expireCodes()), 502, REFUSED);
    expect(errorLine()).toMatchObject({ error: 'token_exchange_failed', provider: 'ghe', oauth_error: 'bad_verification_code' });
    expect(ghes.requests.filter((route) => route.includes('/api/'))).toEqual([]);
  });

  it('a wrong client secret: 200 {"error": "incorrect_client_credentials"}', async () => {
    gateway = await gatewayWith({ PROVIDER_GHE_CLIENT_SECRET: 'not-the-secret' });
    await expectCleanPage(await signIn(), 502, REFUSED);
    expect(errorLine()).toMatchObject({ error: 'token_exchange_failed', oauth_error: 'incorrect_client_credentials' });
  });

  for (const status of [500, 401]) {
    it(`a /user that answers ${status}`, async () => {
      ghes.fail('/api/v3/user', status);
      await expectCleanPage(await signIn(), 502, 'Your profile could not be read from the sign-in provider');
      expect(errorLine()).toMatchObject({
        error: 'profile_unavailable',
        provider: 'ghe',
        reason: `GET ${ghes.origin}/api/v3/user answered ${status}`,
      });
    });
  }

  it('the user pressing Cancel: access_denied, and no code exchange', async () => {
    const signedIn = await signIn('cancel');
    expect(Object.fromEntries(signedIn.callback.searchParams)).toMatchObject({
      error: 'access_denied',
      error_description: 'The user has denied your application access.',
    });
    await expectCleanPage(signedIn, 401, 'Sign-in was cancelled at the provider');
    expect(errorLine()).toMatchObject({ error: 'access_denied', oauth_error: 'access_denied', provider: 'ghe' });
    expect(ghes.requests).not.toContain('POST /login/oauth/access_token');
  });
});
