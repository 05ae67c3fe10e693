import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { startLogin } from '../../src/flow/login.js';
import { PRODUCTION_ENV } from '../support/app.js';
import { startupProblems } from '../support/config.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { MockOidcProvider, type MockUser } from '../support/mock-oidc.js';
import { type ProviderHarness, providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';
import { signInAt } from './oidc-sign-in.js';

/**
 * An Okta authorization server at the network edge, the org's (`https://<org>.okta.com`, its
 * endpoints under /oauth2/v1) or a custom one (`/oauth2/<id>`, its endpoints under that), as its
 * discovery document publishes it (developer.okta.com, "OpenID Connect & OAuth 2.0 API",
 * /.well-known/openid-configuration; okta-auth-js's cache of dev-120913.okta.com's, in a public
 * Cypress test, is the same): every client authentication, PKCE S256 only, `okta_post_message`
 * among the response modes, no RFC 9207 `iss`. Its `groups` claim comes only with the `groups`
 * scope ("Customize tokens returned from Okta with a groups claim").
 */
function oktaAt(issuer: string, endpoints: string, scopes: readonly string[]) {
  const org = new URL(issuer).origin;
  return new MockOidcProvider(issuer, {
    sendsIss: false,
    endpoints: {
      authorization: `${endpoints}/v1/authorize`,
      token: `${endpoints}/v1/token`,
      userinfo: `${endpoints}/v1/userinfo`,
      jwks: `${endpoints}/v1/keys`,
    },
    discovery: {
      registration_endpoint: `${org}/oauth2/v1/clients`,
      response_types_supported: ['code', 'id_token', 'code id_token', 'code token', 'id_token token', 'code id_token token'],
      response_modes_supported: ['query', 'fragment', 'form_post', 'okta_post_message'],
      grant_types_supported: ['authorization_code', 'implicit', 'refresh_token', 'password'],
      scopes_supported: scopes,
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'],
      claims_supported: [
        'iss',
        'ver',
        'sub',
        'aud',
        'iat',
        'exp',
        'jti',
        'auth_time',
        'amr',
        'idp',
        'nonce',
        'name',
        'nickname',
        'preferred_username',
        'given_name',
        'middle_name',
        'family_name',
        'email',
        'email_verified',
        'profile',
        'zoneinfo',
        'locale',
        'address',
        'phone_number',
        'picture',
        'website',
        'gender',
        'birthdate',
        'updated_at',
        'at_hash',
        'c_hash',
      ],
      code_challenge_methods_supported: ['S256'],
      introspection_endpoint: `${endpoints}/v1/introspect`,
      revocation_endpoint: `${endpoints}/v1/revoke`,
      end_session_endpoint: `${endpoints}/v1/logout`,
      request_parameter_supported: true,
      authorization_response_iss_parameter_supported: undefined,
    },
    claimsWithScope: { groups: 'groups' },
    atHash: true,
  }).init();
}
const OIDC_SCOPES = ['openid', 'email', 'profile', 'address', 'phone', 'offline_access'];
const org = await oktaAt('https://acme.okta.com', 'https://acme.okta.com/oauth2', [...OIDC_SCOPES, 'groups']);
// The custom server named default, with the groups scope its admin added for this app.
const custom = await oktaAt('https://acme.okta.com/oauth2/default', 'https://acme.okta.com/oauth2/default', [...OIDC_SCOPES, 'groups']);
const msw = setupServer(...org.handlers(), ...custom.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = {
  PROVIDER_OKTA_CLIENT_ID: org.clientId,
  PROVIDER_OKTA_CLIENT_SECRET: org.clientSecret,
  PROVIDER_OKTA_ISSUER: org.issuer,
};
const CUSTOM = { ...ENV, PROVIDER_OKTA_ISSUER: custom.issuer };

/**
 * The code flow's ID token is thin, since an access token comes with it (support.okta.com,
 * "Okta Groups or Attribute Missing from ID Token"): the base claims (`ver`, `jti`, `amr`, `idp`,
 * `auth_time`, `at_hash`) and, of the scopes' claims, only `name`, `preferred_username` and
 * `email`: no `email_verified` (canonical/authd#1440), no groups; userinfo has the rest (the
 * org server's groups claim included, once the app's filter is set and `groups` asked). These are
 * the claims of such a token beyond the registered ones, as okta-auth-js stores one.
 */
const thin = (claims: { name: string; email: string; preferred_username: string }) => ({
  ver: 1,
  jti: 'ID.LPQaDhnBhZ9wy-B5BvamTBs7E2C8EzXuLA5P8Uyx-IE',
  amr: ['pwd'],
  idp: '00oixa26ycdNcX0VT0h7',
  auth_time: 1_700_000_000,
  ...claims,
});

/** The shared suite with Okta's thin ID token: the address verified in userinfo only. */
const harness: ProviderHarness = {
  ...oidcHarness(org, 'okta', ENV),
  approve(url, user) {
    const names = { name: user.name, email: user.email, preferred_username: user.username };
    return org.authorize(url, { sub: user.subject, claims: thin(names), userinfo: { ...names, email_verified: true } });
  },
};
providerContract('okta', harness, msw);

const NAMES = { name: 'Grace Hopper', email: 'grace@corp.example', preferred_username: 'grace@corp.example' };
/** Grace at the org server: the thin ID token, and userinfo (profile, email, groups) as its reference shows it. */
const GRACE: MockUser = {
  sub: '00uixa271s6x7qt8I0h7',
  claims: thin(NAMES),
  userinfo: {
    ...NAMES,
    nickname: 'Amazing Grace',
    given_name: 'Grace',
    family_name: 'Hopper',
    locale: 'en_US',
    zoneinfo: 'America/Los_Angeles',
    updated_at: 1_690_000_000,
    email_verified: true,
    groups: ['Everyone', 'IT'],
  },
};
/** At the custom server, whose groups claim an admin set to go in the ID token always. */
const GRACE_CUSTOM: MockUser = { ...GRACE, claims: { ...thin(NAMES), groups: ['Everyone', 'it'] } };
const allowing = (groups: string) => ({ ...ENV, PROVIDER_OKTA_ALLOWED_GROUPS: groups });

describe('okta provider', () => {
  it('takes the org or a custom authorization server as _ISSUER, a trailing slash dropped (Okta publishes none)', () => {
    const issuer = (value: string) => (parseConfig({ ...ENV, PROVIDER_OKTA_ISSUER: value }).providers[0] as { issuer?: string }).issuer;
    expect(issuer('https://acme.okta.com')).toBe('https://acme.okta.com');
    expect(issuer('https://acme.okta.com/oauth2/default/')).toBe('https://acme.okta.com/oauth2/default');
    expect(issuer('https://login.corp.example/oauth2/aus1a2b3c4d5E6f7g8h9')).toBe('https://login.corp.example/oauth2/aus1a2b3c4d5E6f7g8h9');
  });

  it('sends the browser to the org server’s /oauth2/v1/authorize, a custom server’s /oauth2/<id>/v1/authorize', async () => {
    const endpoint = async (env: Record<string, string>) => {
      const { authorizationUrl } = await startLogin(flowDepsFor(env), 'okta', undefined);
      return authorizationUrl.origin + authorizationUrl.pathname;
    };
    expect(await endpoint(ENV)).toBe('https://acme.okta.com/oauth2/v1/authorize');
    expect(await endpoint(CUSTOM)).toBe('https://acme.okta.com/oauth2/default/v1/authorize');
  });

  it('signs a member of an allowed group in: the exact profile, the thin ID token completed by userinfo, groups asked for', async () => {
    const { profile } = await signInAt(org, 'okta', allowing('IT'), GRACE);
    expect(profile).toEqual({
      subject: '00uixa271s6x7qt8I0h7',
      email: 'grace@corp.example',
      emailVerified: true,
      name: 'Grace Hopper',
      preferredUsername: 'grace@corp.example',
      groups: ['IT'],
    });
  });

  it('counts the address as verified by userinfo’s word: Okta’s thin ID token names it without email_verified', async () => {
    const env = { ...ENV, PROVIDER_OKTA_ALLOWED_EMAIL_DOMAINS: 'corp.example' };
    expect((await signInAt(org, 'okta', env, GRACE)).profile).toMatchObject({ email: 'grace@corp.example', emailVerified: true });
    // Userinfo's word counts for the address it names only, and never over the ID token's own.
    const another = { ...GRACE, userinfo: { ...GRACE.userinfo, email: 'grace@other.example' } };
    expect((await signInAt(org, 'okta', ENV, another)).profile.emailVerified).toBe(false);
    const saysNo = { ...GRACE, claims: { ...GRACE.claims, email_verified: false } };
    expect((await signInAt(org, 'okta', ENV, saysNo)).profile.emailVerified).toBe(false);
  });

  it('refuses a user in none of the allowed groups, and one Okta sends no groups for (no groups claim set for the app)', async () => {
    const denied = await rejection(signInAt(org, 'okta', allowing('Finance'), GRACE));
    expect(denied).toMatchObject({ code: 'not_allowed', detail: { rule: 'PROVIDER_OKTA_ALLOWED_GROUPS' } });
    const { groups: _, ...withoutGroups } = GRACE.userinfo ?? {};
    const unconfigured = await rejection(signInAt(org, 'okta', allowing('IT'), { ...GRACE, userinfo: withoutGroups }));
    expect(unconfigured).toMatchObject({ code: 'not_allowed', detail: { reason: 'in no allowed group' } });
  });

  it('asks the groups scope only with _ALLOWED_GROUPS or _CLAIMS=groups (a custom server without that scope refuses it); _SCOPES replaces either', async () => {
    const scope = async (env: Record<string, string>) =>
      (await startLogin(flowDepsFor(env), 'okta', undefined)).authorizationUrl.searchParams.get('scope');
    expect(await scope(ENV)).toBe('openid profile email');
    expect(await scope({ ...ENV, PROVIDER_OKTA_CLAIMS: 'department' })).toBe('openid profile email');
    expect(await scope(allowing('IT'))).toBe('openid profile email groups');
    expect(await scope({ ...ENV, PROVIDER_OKTA_CLAIMS: 'groups' })).toBe('openid profile email groups');
    expect(await scope({ ...allowing('IT'), PROVIDER_OKTA_SCOPES: 'openid email' })).toBe('openid email');
  });

  it('gets no groups when the groups scope is not asked (_SCOPES without it), so a group rule refuses', async () => {
    const env = { ...allowing('IT'), PROVIDER_OKTA_SCOPES: 'openid profile email' };
    expect(await rejection(signInAt(org, 'okta', env, GRACE))).toMatchObject({
      code: 'not_allowed',
      detail: { reason: 'in no allowed group' },
    });
  });

  it('signs in at a custom authorization server, its groups claim in the ID token', async () => {
    const { profile } = await signInAt(custom, 'okta', { ...CUSTOM, PROVIDER_OKTA_ALLOWED_GROUPS: 'it' }, GRACE_CUSTOM);
    expect(profile.groups).toEqual(['it']);
  });

  it('refuses to start without _ISSUER, or with an address that is not an issuer of Okta', () => {
    const { PROVIDER_OKTA_ISSUER: _, ...client } = ENV;
    expect(startupProblems(client)).toEqual(['PROVIDER_OKTA_ISSUER is required for Okta (OIDC discovery)']);
    const problems = (value: string) => startupProblems({ ...ENV, PROVIDER_OKTA_ISSUER: value });
    expect(problems('https://acme.okta.com/oauth2/v1')).toEqual([
      'PROVIDER_OKTA_ISSUER names the endpoints of the org authorization server (/oauth2/v1); its issuer is https://acme.okta.com',
    ]);
    expect(problems('https://acme.okta.com/app/acme_portero_1/exk1a2b3c4')).toEqual([
      'PROVIDER_OKTA_ISSUER is https://<org>.okta.com (the org authorization server) or https://<org>.okta.com/oauth2/<server id> (a custom one, like default), not https://acme.okta.com/app/acme_portero_1/exk1a2b3c4',
    ]);
    expect(problems('https://acme-admin.okta.com')).toEqual([
      'PROVIDER_OKTA_ISSUER names the Admin Console (acme-admin.okta.com); the issuer is acme.okta.com',
    ]);
    // A custom domain of that shape is the operator's own.
    expect(problems('https://sso-admin.corp.example')).toEqual([]);
  });

  it('starts in production without an access rule: a corporate IdP’s users are the company’s', () => {
    expect(startupProblems({ ...PRODUCTION_ENV, ...ENV })).toEqual([]);
  });
});
