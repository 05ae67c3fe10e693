import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { startLogin } from '../../src/flow/login.js';
import { PRODUCTION_ENV } from '../support/app.js';
import { startupProblems } from '../support/config.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { MockOidcProvider, type MockUser } from '../support/mock-oidc.js';
import { providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';
import { signInAt } from './oidc-sign-in.js';

const AUTHENTIK = 'https://authentik.corp.example';
const OAUTH = `${AUTHENTIK}/application/o`;

// authentik at the network edge, one application, as its discovery document says (authentik's
// providers/oauth2/views/provider.py builds it): the issuer <URL>/application/o/<slug>/ with its
// slash, the authorize, token and userinfo endpoints shared by every application (under
// /application/o/, a slash ending each), the keys and end-session under the application's slug;
// both client authentications, PKCE plain and S256, and no RFC 9207 `iss`.
const app = await new MockOidcProvider(`${OAUTH}/portero/`, {
  sendsIss: false,
  endpoints: {
    authorization: `${OAUTH}/authorize/`,
    token: `${OAUTH}/token/`,
    userinfo: `${OAUTH}/userinfo/`,
    jwks: `${OAUTH}/portero/jwks/`,
  },
  discovery: {
    end_session_endpoint: `${OAUTH}/portero/end-session/`,
    introspection_endpoint: `${OAUTH}/introspect/`,
    revocation_endpoint: `${OAUTH}/revoke/`,
    device_authorization_endpoint: `${OAUTH}/device/`,
    response_types_supported: ['code', 'id_token', 'id_token token', 'code token', 'code id_token', 'code id_token token'],
    response_modes_supported: ['query', 'fragment', 'form_post'],
    grant_types_supported: [
      'authorization_code',
      'refresh_token',
      'implicit',
      'client_credentials',
      'password',
      'urn:ietf:params:oauth:grant-type:device_code',
    ],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    acr_values_supported: ['goauthentik.io/providers/oauth2/default'],
    scopes_supported: ['openid', 'email', 'profile', 'offline_access'],
    request_parameter_supported: false,
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'amr',
      'nonce',
      'email',
      'email_verified',
      'name',
      'given_name',
      'preferred_username',
      'nickname',
      'groups',
    ],
    claims_parameter_supported: false,
    code_challenge_methods_supported: ['plain', 'S256'],
    authorization_response_iss_parameter_supported: undefined,
  },
  atHash: true,
}).init();
const msw = setupServer(...app.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = {
  PROVIDER_AUTHENTIK_CLIENT_ID: app.clientId,
  PROVIDER_AUTHENTIK_CLIENT_SECRET: app.clientSecret,
  PROVIDER_AUTHENTIK_URL: AUTHENTIK,
  PROVIDER_AUTHENTIK_SLUG: 'portero',
};

providerContract('authentik', oidcHarness(app, 'authentik', ENV), msw);

/**
 * authentik's default scope mappings (docs.goauthentik.io, "OAuth 2.0 provider", scope mappings;
 * blueprints/system/providers-oauth2.yaml): `profile` gives `name`, `given_name` (the full name
 * again), `preferred_username`, `nickname` and `groups` (the group names); `email` gives `email`
 * and `email_verified`, false since 2025.10 (authentik verifies no address), true here as the
 * custom email mapping authentik's docs show says. The subject is the user's hashed id by default.
 * The ID token adds, as providers/oauth2/id_token.py makes it, authentik's `acr`, `amr` (a
 * password sign-in), `auth_time` and `sid`, the session key's SHA-256; "Include claims in
 * id_token" is on by default, so the mappings' claims are in it too.
 */
const PROFILE = {
  name: 'Grace Hopper',
  given_name: 'Grace Hopper',
  preferred_username: 'grace',
  nickname: 'grace',
  groups: ['authentik Admins', 'engineering'],
  email: 'grace@corp.example',
  email_verified: true,
};
const GRACE: MockUser = {
  sub: '7f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b',
  claims: {
    auth_time: 1_700_000_000,
    acr: 'goauthentik.io/providers/oauth2/default',
    amr: ['pwd'],
    sid: 'b5d4c3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4',
    ...PROFILE,
  },
  userinfo: PROFILE,
};
const allowing = (groups: string) => ({ ...ENV, PROVIDER_AUTHENTIK_ALLOWED_GROUPS: groups });

describe('authentik provider', () => {
  it('makes the issuer <URL>/application/o/<slug>/ and discovers it there: the authorize endpoint shared, under /application/o/', async () => {
    expect(parseConfig(ENV).providers[0]).toMatchObject({ issuer: 'https://authentik.corp.example/application/o/portero/' });
    expect(parseConfig({ ...ENV, PROVIDER_AUTHENTIK_URL: 'https://corp.example/authentik/' }).providers[0]).toMatchObject({
      issuer: 'https://corp.example/authentik/application/o/portero/',
    });
    const { authorizationUrl } = await startLogin(flowDepsFor(ENV), 'authentik', undefined);
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe('https://authentik.corp.example/application/o/authorize/');
  });

  it('signs a member of an allowed group in: the exact profile', async () => {
    const { profile } = await signInAt(app, 'authentik', allowing('Engineering'), GRACE);
    expect(profile).toEqual({
      subject: GRACE.sub,
      email: 'grace@corp.example',
      emailVerified: true,
      name: 'Grace Hopper',
      preferredUsername: 'grace',
      groups: ['Engineering'],
    });
  });

  it('refuses a user in none of the allowed groups', async () => {
    const error = await rejection(signInAt(app, 'authentik', allowing('finance'), GRACE));
    expect(error).toMatchObject({ code: 'not_allowed', detail: { rule: 'PROVIDER_AUTHENTIK_ALLOWED_GROUPS' } });
  });

  it('refuses email rules for the default email mapping, whose email_verified is false', async () => {
    const unverified = { ...GRACE, claims: { ...GRACE.claims, email_verified: false }, userinfo: { ...PROFILE, email_verified: false } };
    const env = { ...ENV, PROVIDER_AUTHENTIK_ALLOWED_EMAIL_DOMAINS: 'corp.example' };
    expect(await rejection(signInAt(app, 'authentik', env, unverified))).toMatchObject({
      code: 'not_allowed',
      detail: { reason: 'no verified email' },
    });
  });

  it('refuses to start without _URL or _SLUG, or with the issuer in _URL', () => {
    const { PROVIDER_AUTHENTIK_URL: _url, PROVIDER_AUTHENTIK_SLUG: _slug, ...client } = ENV;
    expect(startupProblems(client)).toEqual([
      "PROVIDER_AUTHENTIK_URL is required for authentik (authentik's address, like https://authentik.company)",
      "PROVIDER_AUTHENTIK_SLUG is required for authentik (the application's slug, as in <URL>/application/o/<slug>/)",
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_AUTHENTIK_SLUG: 'portero/' })).toEqual([
      'PROVIDER_AUTHENTIK_SLUG must be letters, digits, ".", "_" or "-": "portero/"',
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_AUTHENTIK_URL: 'https://authentik.corp.example/application/o/portero/' })).toEqual([
      "PROVIDER_AUTHENTIK_URL is authentik's address, without /application/o/<slug>: PROVIDER_AUTHENTIK_SLUG names the application",
    ]);
  });

  it('starts in production without an access rule: a corporate IdP’s users are the company’s', () => {
    expect(startupProblems({ ...PRODUCTION_ENV, ...ENV })).toEqual([]);
  });
});
