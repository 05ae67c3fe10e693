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
 * An Auth0 tenant at the network edge, at `domain` (its own or a custom one), as a tenant's
 * discovery document publishes it (https://<tenant>/.well-known/openid-configuration; Neoteroi/
 * BlackSheep's tests/test_auth_oidc.py records neoteroi.eu.auth0.com's, and tenants now add
 * private_key_jwt and its algorithms): the issuer with a trailing slash, /authorize beside
 * /oauth/token, /userinfo and /.well-known/jwks.json; basic, post and private_key_jwt; PKCE S256
 * and plain; and no RFC 9207 `iss`.
 */
function tenantAt(domain: string) {
  const origin = `https://${domain}`;
  return new MockOidcProvider(`${origin}/`, {
    sendsIss: false,
    endpoints: {
      authorization: `${origin}/authorize`,
      token: `${origin}/oauth/token`,
      userinfo: `${origin}/userinfo`,
      jwks: `${origin}/.well-known/jwks.json`,
    },
    discovery: {
      device_authorization_endpoint: `${origin}/oauth/device/code`,
      mfa_challenge_endpoint: `${origin}/mfa/challenge`,
      registration_endpoint: `${origin}/oidc/register`,
      revocation_endpoint: `${origin}/oauth/revoke`,
      end_session_endpoint: `${origin}/oidc/logout`,
      scopes_supported: [
        'openid',
        'profile',
        'offline_access',
        'name',
        'given_name',
        'family_name',
        'nickname',
        'email',
        'email_verified',
        'picture',
        'created_at',
        'identities',
        'phone',
        'address',
      ],
      response_types_supported: ['code', 'token', 'id_token', 'code token', 'code id_token', 'token id_token', 'code token id_token'],
      code_challenge_methods_supported: ['S256', 'plain'],
      response_modes_supported: ['query', 'fragment', 'form_post'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS256', 'RS384', 'PS256'],
      claims_supported: [
        'aud',
        'auth_time',
        'created_at',
        'email',
        'email_verified',
        'exp',
        'family_name',
        'given_name',
        'iat',
        'identities',
        'iss',
        'name',
        'nickname',
        'phone_number',
        'picture',
        'sub',
      ],
      request_uri_parameter_supported: false,
      request_parameter_supported: false,
      id_token_signing_alg_values_supported: ['HS256', 'RS256', 'PS256'],
      authorization_response_iss_parameter_supported: undefined,
    },
  }).init();
}
const tenant = await tenantAt('acme.eu.auth0.com');
const customDomain = await tenantAt('login.corp.example');
const msw = setupServer(...tenant.handlers(), ...customDomain.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = {
  PROVIDER_AUTH0_CLIENT_ID: tenant.clientId,
  PROVIDER_AUTH0_CLIENT_SECRET: tenant.clientSecret,
  PROVIDER_AUTH0_DOMAIN: 'acme.eu.auth0.com',
};
const ROLES = 'https://corp.example/roles';

/** The shared suite with Auth0's claims: a `nickname`, no user name. */
const harness: ProviderHarness = {
  ...oidcHarness(tenant, 'auth0', ENV),
  approve: (url, user) =>
    tenant.authorize(url, {
      sub: user.subject,
      claims: { nickname: user.username, name: user.name, email: user.email, email_verified: true },
    }),
  profileQuirks: { preferredUsername: undefined },
};
providerContract('auth0', harness, msw);

/**
 * An Auth0 ID token (auth0.com/docs, "ID token structure"; "Create namespaced custom claims"): the
 * user id with its connection (`auth0|...`), `nickname`, `picture`, `updated_at`, and the roles an
 * Action added as `api.idToken.setCustomClaim('https://corp.example/roles', event.authorization.roles)`.
 */
const PROFILE = {
  nickname: 'grace',
  name: 'Grace Hopper',
  picture: 'https://s.gravatar.com/avatar/2f0c0bd0a7b3e1c5d1a5e6f7a8b9c0d1?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fgh.png',
  updated_at: '2024-05-01T09:30:00.000Z',
  email: 'grace@corp.example',
  email_verified: true,
  [ROLES]: ['admin', 'billing'],
};
/** Its ID token has the session's `sid` too; userinfo the rest. */
const GRACE: MockUser = {
  sub: 'auth0|64f1c2d3e4a5b6c7d8e9f0a1',
  claims: { ...PROFILE, sid: 'rWq8h3aM0eB1cD2eF3gH4iJ5kL6mN7oP' },
  userinfo: PROFILE,
};
const allowing = (roles: string) => ({ ...ENV, PROVIDER_AUTH0_GROUPS_CLAIM: ROLES, PROVIDER_AUTH0_ALLOWED_GROUPS: roles });

describe('auth0 provider', () => {
  it('makes the issuer https://<domain>/, with Auth0’s trailing slash, and discovers it there', async () => {
    expect(parseConfig(ENV).providers[0]).toMatchObject({ type: 'auth0', issuer: 'https://acme.eu.auth0.com/' });
    const { authorizationUrl } = await startLogin(flowDepsFor(ENV), 'auth0', undefined);
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe('https://acme.eu.auth0.com/authorize');
  });

  it('signs a user with an allowed role in, read from a namespaced claim: the exact profile', async () => {
    const { profile } = await signInAt(tenant, 'auth0', allowing('admin'), GRACE);
    expect(profile).toEqual({
      subject: 'auth0|64f1c2d3e4a5b6c7d8e9f0a1',
      email: 'grace@corp.example',
      emailVerified: true,
      name: 'Grace Hopper',
      picture: GRACE.claims?.picture,
      groups: ['admin'],
    });
  });

  it('refuses a user without an allowed role, and every user when the claim is not the Action’s', async () => {
    const denied = await rejection(signInAt(tenant, 'auth0', allowing('support'), GRACE));
    expect(denied).toMatchObject({ code: 'not_allowed', detail: { rule: 'PROVIDER_AUTH0_ALLOWED_GROUPS' } });
    const plainGroups = { ...ENV, PROVIDER_AUTH0_ALLOWED_GROUPS: 'admin' };
    expect(await rejection(signInAt(tenant, 'auth0', plainGroups, GRACE))).toMatchObject({ code: 'not_allowed' });
  });

  it('refuses an ID token whose iss lacks the trailing slash: the issuer is compared exactly', async () => {
    const withoutSlash = (claims: Record<string, unknown>) => ({ ...claims, iss: 'https://acme.eu.auth0.com' });
    const error = await rejection(signInAt(tenant, 'auth0', ENV, GRACE, withoutSlash));
    expect(error.code).toBe('id_token_invalid');
  });

  it('sends the client secret in the form body, as a Regular Web Application expects by default', async () => {
    await signInAt(tenant, 'auth0', ENV, GRACE);
    expect(tenant.tokenRequests.at(-1)?.clientAuth).toBe('client_secret_post');
  });

  it('works on a custom domain, its endpoints there too', async () => {
    const env = { ...ENV, PROVIDER_AUTH0_DOMAIN: 'Login.Corp.Example' };
    expect(parseConfig(env).providers[0]).toMatchObject({ issuer: 'https://login.corp.example/' });
    const { authorizationUrl } = await startLogin(flowDepsFor(env), 'auth0', undefined);
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe('https://login.corp.example/authorize');
    expect((await signInAt(customDomain, 'auth0', env, GRACE)).profile.subject).toBe('auth0|64f1c2d3e4a5b6c7d8e9f0a1');
  });

  it('refuses to start without _DOMAIN, with a URL for it, or with an _ISSUER', () => {
    const { PROVIDER_AUTH0_DOMAIN: _, ...client } = ENV;
    expect(startupProblems(client)).toEqual([
      "PROVIDER_AUTH0_DOMAIN is required for Auth0: the tenant's domain (like tenant.eu.auth0.com) or its custom domain",
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_AUTH0_DOMAIN: 'https://acme.eu.auth0.com/' })).toEqual([
      'PROVIDER_AUTH0_DOMAIN is a host name like tenant.eu.auth0.com, without https:// or a path: "https://acme.eu.auth0.com/"',
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_AUTH0_ISSUER: 'https://acme.eu.auth0.com/' })).toEqual([
      expect.stringMatching(/^PROVIDER_AUTH0_ISSUER is not a setting of Auth0 \(its settings: .*, PROVIDER_AUTH0_DOMAIN\)$/),
    ]);
  });

  it('starts in production without an access rule: the tenant’s users are the company’s', () => {
    expect(startupProblems({ ...PRODUCTION_ENV, ...ENV })).toEqual([]);
  });
});
