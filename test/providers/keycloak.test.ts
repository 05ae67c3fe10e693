import { SignJWT } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { finishLogin, startLogin } from '../../src/flow/login.js';
import { PRODUCTION_ENV } from '../support/app.js';
import { startupProblems } from '../support/config.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { MockOidcProvider, type MockUser } from '../support/mock-oidc.js';
import { type ProviderHarness, providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';
import { signInAt } from './oidc-sign-in.js';

/** A Keycloak realm's issuer, and where its endpoints are: under the issuer, /protocol/openid-connect. */
const ISSUER = 'https://sso.corp.example/realms/acme';
const OIDC = `${ISSUER}/protocol/openid-connect`;
/** How a realm's client may authenticate: every ClientAuthenticator Keycloak ships. */
const CLIENT_AUTH = ['private_key_jwt', 'client_secret_basic', 'client_secret_post', 'tls_client_auth', 'client_secret_jwt'];

// Keycloak at the network edge, one realm, as its discovery document says (Keycloak's
// OIDCWellKnownProvider.java builds it): the endpoints under /protocol/openid-connect, every
// client authentication, PKCE plain and S256, HMAC among the ID token algorithms, and RFC 9207
// `iss` announced and sent. Its callbacks carry `session_state` too (as ory/polis#2074 shows one:
// code, iss, session_state, state).
const realm = await new MockOidcProvider(ISSUER, {
  endpoints: { authorization: `${OIDC}/auth`, token: `${OIDC}/token`, userinfo: `${OIDC}/userinfo`, jwks: `${OIDC}/certs` },
  discovery: {
    introspection_endpoint: `${OIDC}/token/introspect`,
    end_session_endpoint: `${OIDC}/logout`,
    check_session_iframe: `${OIDC}/login-status-iframe.html`,
    grant_types_supported: ['authorization_code', 'implicit', 'refresh_token', 'password', 'client_credentials'],
    response_types_supported: ['code', 'none', 'id_token', 'token', 'id_token token', 'code id_token', 'code token', 'code id_token token'],
    subject_types_supported: ['public', 'pairwise'],
    id_token_signing_alg_values_supported: [
      'PS384',
      'RS384',
      'EdDSA',
      'ES384',
      'HS256',
      'HS512',
      'ES256',
      'RS256',
      'HS384',
      'ES512',
      'PS256',
      'PS512',
      'RS512',
    ],
    response_modes_supported: ['query', 'fragment', 'form_post', 'query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'],
    token_endpoint_auth_methods_supported: CLIENT_AUTH,
    token_endpoint_auth_signing_alg_values_supported: [
      'PS384',
      'RS384',
      'EdDSA',
      'ES384',
      'HS256',
      'HS512',
      'ES256',
      'RS256',
      'HS384',
      'ES512',
      'PS256',
      'PS512',
      'RS512',
    ],
    claims_supported: [
      'iss',
      'sub',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'name',
      'given_name',
      'family_name',
      'preferred_username',
      'email',
      'acr',
      'azp',
      'nonce',
    ],
    claim_types_supported: ['normal'],
    claims_parameter_supported: true,
    scopes_supported: [
      'openid',
      'profile',
      'email',
      'roles',
      'web-origins',
      'acr',
      'basic',
      'address',
      'phone',
      'offline_access',
      'microprofile-jwt',
      'organization',
    ],
    request_parameter_supported: true,
    request_uri_parameter_supported: true,
    require_request_uri_registration: true,
    code_challenge_methods_supported: ['plain', 'S256'],
    tls_client_certificate_bound_access_tokens: true,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
  },
  atHash: true,
  callbackParams: { session_state: '0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b' },
}).init();
const msw = setupServer(...realm.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
afterEach(() => {
  realm.signIdToken = undefined;
});

const ENV = {
  PROVIDER_KEYCLOAK_CLIENT_ID: realm.clientId,
  PROVIDER_KEYCLOAK_CLIENT_SECRET: realm.clientSecret,
  PROVIDER_KEYCLOAK_URL: 'https://sso.corp.example',
  PROVIDER_KEYCLOAK_REALM: 'acme',
};

/** The shared suite with a Keycloak ID token's own claims: its type, the client as `azp`, the session as `sid`. */
const harness: ProviderHarness = {
  ...oidcHarness(realm, 'keycloak', ENV),
  approve: (url, user) =>
    realm.authorize(url, {
      sub: user.subject,
      claims: {
        typ: 'ID',
        azp: realm.clientId,
        sid: '0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b',
        email_verified: true,
        name: user.name,
        preferred_username: user.username,
        email: user.email,
      },
    }),
};
providerContract('keycloak', harness, msw);

/**
 * A Keycloak ID token's claims (server administration guide, "OIDC token and SAML assertion
 * mappers"; their names in Keycloak's IDToken.java, `typ` "ID" from TokenUtil): the standard ones,
 * `groups` from a Group Membership mapper with "Full group path" on (its default), and the roles of
 * the `roles` client scope's mappers, once "Add to ID token" is on.
 */
const GRACE: MockUser = {
  sub: 'f2c1a6b8-3d4e-4f50-9a61-7b8c9d0e1f2a',
  claims: {
    auth_time: 1_700_000_000,
    jti: '9c4b1f62-5e1d-4a7b-8d3e-2f6a0b9c8d7e',
    typ: 'ID',
    azp: realm.clientId,
    sid: '0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b',
    acr: '1',
    email_verified: true,
    name: 'Grace Hopper',
    preferred_username: 'grace',
    given_name: 'Grace',
    family_name: 'Hopper',
    email: 'grace@corp.example',
    groups: ['/admins', '/acme/platform'],
    realm_access: { roles: ['default-roles-acme', 'offline_access', 'auditor'] },
    resource_access: { portal: { roles: ['editor'] }, account: { roles: ['manage-account'] } },
  },
};

const allowing = (groups: string) => ({ ...ENV, PROVIDER_KEYCLOAK_ALLOWED_GROUPS: groups });

describe('keycloak provider', () => {
  it('finds the realm’s issuer from _URL and _REALM (with the legacy /auth path too), or takes _ISSUER as it is', () => {
    const { PROVIDER_KEYCLOAK_URL: _url, PROVIDER_KEYCLOAK_REALM: _realm, ...client } = ENV;
    const issuer = (env: Record<string, string>) => (parseConfig(env).providers[0] as { issuer?: string }).issuer;
    expect(issuer(ENV)).toBe('https://sso.corp.example/realms/acme');
    expect(issuer({ ...ENV, PROVIDER_KEYCLOAK_URL: 'https://sso.corp.example/' })).toBe('https://sso.corp.example/realms/acme');
    expect(issuer({ ...ENV, PROVIDER_KEYCLOAK_URL: 'https://sso.corp.example/auth' })).toBe('https://sso.corp.example/auth/realms/acme');
    expect(issuer({ ...client, PROVIDER_KEYCLOAK_ISSUER: 'https://sso.corp.example/realms/acme' })).toBe(
      'https://sso.corp.example/realms/acme',
    );
  });

  it('sends the browser to the realm’s /protocol/openid-connect/auth and takes its callback, iss and session_state included', async () => {
    const deps = flowDepsFor(ENV);
    const started = await startLogin(deps, 'keycloak', undefined);
    expect(started.authorizationUrl.origin + started.authorizationUrl.pathname).toBe(`${OIDC}/auth`);
    const callback = realm.authorize(started.authorizationUrl, GRACE);
    expect([...callback.keys()].sort()).toEqual(['code', 'iss', 'session_state', 'state']);
    expect((await finishLogin(deps, 'keycloak', started.flowId, callback)).profile.subject).toBe(GRACE.sub);
  });

  it('refuses a callback without iss, since the realm’s discovery says it sends one (RFC 9207: a mix-up)', async () => {
    const deps = flowDepsFor(ENV);
    const started = await startLogin(deps, 'keycloak', undefined);
    const callback = realm.authorize(started.authorizationUrl, GRACE);
    callback.delete('iss');
    expect(await rejection(finishLogin(deps, 'keycloak', started.flowId, callback))).toMatchObject({
      code: 'flow_invalid',
      detail: { reason: 'iss missing' },
    });
  });

  it('refuses an ID token signed HS256 with the client secret, though the realm’s discovery lists HS256', async () => {
    realm.signIdToken = (claims) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(realm.clientSecret));
    const error = await rejection(signInAt(realm, 'keycloak', ENV, GRACE));
    // openid-client verifies no HMAC ID token (UnsupportedOperationError), which portero reports as a failed exchange.
    expect(error).toMatchObject({
      code: 'token_exchange_failed',
      detail: { provider: 'keycloak', reason: 'unsupported JWS algorithm' },
    });
  });

  it('signs a member of an allowed group in: the exact profile, its group as the rule spells it', async () => {
    const { profile } = await signInAt(realm, 'keycloak', allowing('admins'), GRACE);
    expect(profile).toEqual({
      subject: 'f2c1a6b8-3d4e-4f50-9a61-7b8c9d0e1f2a',
      email: 'grace@corp.example',
      emailVerified: true,
      name: 'Grace Hopper',
      preferredUsername: 'grace',
      groups: ['admins'],
    });
  });

  it('compares full group paths without their leading slash: a subgroup by its whole path, never by its last name', async () => {
    expect((await signInAt(realm, 'keycloak', allowing('acme/platform'), GRACE)).profile.groups).toEqual(['acme/platform']);
    for (const groups of ['platform', 'acme', 'staff']) {
      const error = await rejection(signInAt(realm, 'keycloak', allowing(groups), GRACE));
      expect(error, groups).toMatchObject({ code: 'not_allowed', detail: { rule: 'PROVIDER_KEYCLOAK_ALLOWED_GROUPS' } });
    }
  });

  it('counts realm roles as role:<role> and client roles as role:<client>:<role>, as oauth2-proxy does', async () => {
    const rules = allowing('role:auditor,role:portal:editor,role:admin');
    expect((await signInAt(realm, 'keycloak', rules, GRACE)).profile.groups).toEqual(['role:auditor', 'role:portal:editor']);
    // A role is no group, nor a group a role.
    expect(await rejection(signInAt(realm, 'keycloak', allowing('auditor,role:admins'), GRACE))).toMatchObject({ code: 'not_allowed' });
  });

  it('reads the roles from userinfo when only its mapper has them, and signs in without any', async () => {
    const inUserinfoOnly = (claims: Record<string, unknown>) => {
      const { realm_access: _r, resource_access: _c, ...idToken } = claims;
      return idToken;
    };
    const { profile } = await signInAt(realm, 'keycloak', allowing('role:auditor'), GRACE, inUserinfoOnly);
    expect(profile.groups).toEqual(['role:auditor']);
    const { realm_access: _r, resource_access: _c, groups: _g, ...bare } = GRACE.claims ?? {};
    const plain = await signInAt(realm, 'keycloak', ENV, { ...GRACE, claims: bare });
    expect(plain.profile).not.toHaveProperty('groups');
  });

  it('refuses to start without its realm, with it named twice, or with a group rule spelt with its slash', () => {
    const { PROVIDER_KEYCLOAK_URL: url, PROVIDER_KEYCLOAK_REALM: _realm, ...client } = ENV;
    expect(startupProblems(client)).toEqual([
      "PROVIDER_KEYCLOAK_URL and PROVIDER_KEYCLOAK_REALM are required for Keycloak (the server's address, like https://sso.example.com, and the realm's name), or else PROVIDER_KEYCLOAK_ISSUER (https://sso.example.com/realms/<realm>)",
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_KEYCLOAK_ISSUER: 'https://sso.corp.example/realms/acme' })).toEqual([
      'PROVIDER_KEYCLOAK_ISSUER names the realm already: set it alone, or PROVIDER_KEYCLOAK_URL with PROVIDER_KEYCLOAK_REALM instead',
    ]);
    expect(startupProblems({ ...client, PROVIDER_KEYCLOAK_URL: url })).toEqual([
      "PROVIDER_KEYCLOAK_REALM is required for Keycloak beside PROVIDER_KEYCLOAK_URL (the realm's name, as in https://sso.example.com/realms/<realm>)",
    ]);
    expect(startupProblems({ ...client, PROVIDER_KEYCLOAK_REALM: 'acme' })).toEqual([
      "PROVIDER_KEYCLOAK_URL is required for Keycloak (beside PROVIDER_KEYCLOAK_REALM: the server's address, like https://sso.example.com)",
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_KEYCLOAK_REALM: 'acme/../master' })).toEqual([
      'PROVIDER_KEYCLOAK_REALM must be letters, digits, ".", "_" or "-": "acme/../master"',
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_KEYCLOAK_URL: 'https://sso.corp.example/realms/acme' })).toEqual([
      "PROVIDER_KEYCLOAK_URL is the server's address, without /realms/<realm>: PROVIDER_KEYCLOAK_REALM names the realm",
    ]);
    expect(startupProblems(allowing('staff,/admins'))).toEqual([
      'PROVIDER_KEYCLOAK_ALLOWED_GROUPS entry "/admins": write Keycloak group paths without the leading slash ("admins")',
    ]);
  });

  it('starts in production without an access rule: a corporate IdP’s users are the company’s', () => {
    expect(startupProblems({ ...PRODUCTION_ENV, ...ENV })).toEqual([]);
  });
});
