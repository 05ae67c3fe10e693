import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { finishLogin, startLogin } from '../../src/flow/login.js';
import { buildTestApp, memoryStore, PRODUCTION_ENV } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { startupProblems } from '../support/config.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { MockOidcProvider, type MockUser } from '../support/mock-oidc.js';
import { type ProviderHarness, providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';

/** The scopes Google says it granted, `profile` and `email` spelt out as URLs too. */
const GRANTED = 'email profile https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid';

// Google at the network edge, as its discovery document publishes it
// (https://accounts.google.com/.well-known/openid-configuration, recorded in panva/wellknown's
// issuers/google; developers.google.com/identity/openid-connect/reference): endpoints on four
// hosts, both client authentications, PKCE plain and S256. Its ID token as "An ID token's payload"
// in developers.google.com/identity/openid-connect/openid-connect shows it (google-auth-library's
// TokenPayload types it): `azp` the client, `at_hash`, `email_verified` a boolean, and `hd` for a
// Workspace account only. Google has begun to send `iss` with its callbacks, to some users,
// without saying so in discovery (openiddict/openiddict-core#2428); its callbacks and token
// response carry the granted `scope` with URLs in it, and `authuser` and `prompt`.
const google = await new MockOidcProvider('https://accounts.google.com', {
  endpoints: {
    authorization: 'https://accounts.google.com/o/oauth2/v2/auth',
    token: 'https://oauth2.googleapis.com/token',
    userinfo: 'https://openidconnect.googleapis.com/v1/userinfo',
    jwks: 'https://www.googleapis.com/oauth2/v3/certs',
  },
  discovery: {
    device_authorization_endpoint: 'https://oauth2.googleapis.com/device/code',
    revocation_endpoint: 'https://oauth2.googleapis.com/revoke',
    response_types_supported: ['code', 'token', 'id_token', 'code token', 'code id_token', 'token id_token', 'code token id_token', 'none'],
    scopes_supported: ['openid', 'email', 'profile'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    claims_supported: ['aud', 'email', 'email_verified', 'exp', 'family_name', 'given_name', 'iat', 'iss', 'name', 'picture', 'sub'],
    code_challenge_methods_supported: ['plain', 'S256'],
    grant_types_supported: [
      'authorization_code',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
    ],
    authorization_response_iss_parameter_supported: undefined,
  },
  atHash: true,
  callbackParams: { scope: GRANTED, authuser: '0', prompt: 'consent' },
  tokenResponse: (body) => ({ ...body, scope: GRANTED }),
}).init();
const msw = setupServer(...google.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = { PROVIDER_GOOGLE_CLIENT_ID: google.clientId, PROVIDER_GOOGLE_CLIENT_SECRET: google.clientSecret };

const PICTURE = 'https://lh3.googleusercontent.com/a/ACg8ocKxVv3q2JQe1bW0Wm5Ykq9aZ7NnL0hR4c1Tt8=s96-c';

/**
 * A Google user's claims, the ID token's with `profile email` asked (`azp` the client), and
 * userinfo's, the same without `azp`; `hd` names the Workspace domain, absent for a gmail.com account.
 */
function googleUser(sub: string, claims: { email: string; name: string; hd?: string }): MockUser {
  const [given_name, ...family] = claims.name.split(' ');
  const profile = { ...claims, email_verified: true, given_name, family_name: family.join(' '), picture: PICTURE };
  return { sub, claims: { azp: google.clientId, ...profile }, userinfo: profile };
}
const ADA = googleUser('110169484474386276334', { email: 'ada@company.com', name: 'Ada Lovelace', hd: 'company.com' });

/** The shared suite with Google's claims: Google has no user names. */
const harness: ProviderHarness = {
  ...oidcHarness(google, 'google', ENV),
  approve: (url, user) => google.authorize(url, googleUser(user.subject, { email: user.email, name: user.name })),
  profileQuirks: { preferredUsername: undefined },
};
providerContract('google', harness, msw);

async function signIn(user: MockUser, env: Record<string, string> = ENV) {
  const deps = flowDepsFor(env);
  const started = await startLogin(deps, 'google', undefined);
  return { deps, started, callback: google.authorize(started.authorizationUrl, user) };
}

describe('google provider', () => {
  it('needs only the client id and secret: the issuer is Google’s, its endpoints found by discovery', async () => {
    const deps = flowDepsFor(ENV);
    const { authorizationUrl } = await startLogin(deps, 'google', undefined);
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe('https://accounts.google.com/o/oauth2/v2/auth');
    expect(parseConfig(ENV).providers[0]).toMatchObject({ id: 'google', type: 'google', issuer: 'https://accounts.google.com' });
  });

  it('signs a Workspace user in: the exact profile from the ID token, no user name (Google has none)', async () => {
    const { deps, started, callback } = await signIn(ADA);
    expect((await finishLogin(deps, 'google', started.flowId, callback)).profile).toEqual({
      subject: '110169484474386276334',
      email: 'ada@company.com',
      emailVerified: true,
      name: 'Ada Lovelace',
      preferredUsername: undefined,
      picture: PICTURE,
    });
  });

  it('takes a callback with iss or without (Google sends it to some users, unannounced), never one naming another issuer', async () => {
    const withIss = await signIn(ADA);
    expect(withIss.callback.get('iss')).toBe('https://accounts.google.com');
    expect((await finishLogin(withIss.deps, 'google', withIss.started.flowId, withIss.callback)).profile.subject).toBe(ADA.sub);
    const without = await signIn(ADA);
    without.callback.delete('iss');
    expect((await finishLogin(without.deps, 'google', without.started.flowId, without.callback)).profile.subject).toBe(ADA.sub);
    const mixedUp = await signIn(ADA);
    mixedUp.callback.set('iss', 'https://idp.example.test');
    expect(await rejection(finishLogin(mixedUp.deps, 'google', mixedUp.started.flowId, mixedUp.callback))).toMatchObject({
      code: 'flow_invalid',
      detail: { reason: 'iss mismatch' },
    });
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
    const user = googleUser(ADA.sub, { email: 'ada@company.com', name: 'Ada Lovelace', ...(hd ? { hd } : {}) });
    const done = await browser.get(gateway.app, `https://gateway.test/callback/google?${google.authorize(location, user)}`);
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
