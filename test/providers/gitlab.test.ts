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
import { idTokenWith, signInAt } from './oidc-sign-in.js';

/**
 * GitLab at the network edge, at `url` (gitlab.com, or a self-hosted instance under a path), as
 * gitlab.com's discovery document publishes it (https://gitlab.com/.well-known/openid-configuration,
 * recorded in panva/wellknown's issuers/gitlab): the endpoints under /oauth, both client
 * authentications, PKCE plain and S256, no RFC 9207 `iss` in callbacks (doorkeeper-openid_connect
 * sends none).
 */
function gitlabAt(url: string) {
  return new MockOidcProvider(url, {
    sendsIss: false,
    endpoints: {
      authorization: `${url}/oauth/authorize`,
      token: `${url}/oauth/token`,
      userinfo: `${url}/oauth/userinfo`,
      jwks: `${url}/oauth/discovery/keys`,
    },
    discovery: {
      revocation_endpoint: `${url}/oauth/revoke`,
      introspection_endpoint: `${url}/oauth/introspect`,
      scopes_supported: ['api', 'read_api', 'read_user', 'read_repository', 'write_repository', 'sudo', 'openid', 'profile', 'email'],
      response_modes_supported: ['query', 'fragment', 'form_post'],
      grant_types_supported: ['authorization_code', 'password', 'client_credentials', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      claim_types_supported: ['normal'],
      claims_supported: [
        'iss',
        'sub',
        'aud',
        'exp',
        'iat',
        'sub_legacy',
        'name',
        'nickname',
        'preferred_username',
        'email',
        'email_verified',
        'website',
        'profile',
        'picture',
        'groups',
        'groups_direct',
        'https://gitlab.org/claims/groups/owner',
        'https://gitlab.org/claims/groups/maintainer',
        'https://gitlab.org/claims/groups/developer',
      ],
      code_challenge_methods_supported: ['plain', 'S256'],
      authorization_response_iss_parameter_supported: undefined,
    },
  }).init();
}
const gitlabCom = await gitlabAt('https://gitlab.com');
const selfHosted = await gitlabAt('https://git.corp.example/gitlab');
const msw = setupServer(...gitlabCom.handlers(), ...selfHosted.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = { PROVIDER_GITLAB_CLIENT_ID: gitlabCom.clientId, PROVIDER_GITLAB_CLIENT_SECRET: gitlabCom.clientSecret };
const SELF_HOSTED = { ...ENV, PROVIDER_GITLAB_URL: 'https://git.corp.example/gitlab/' };

/** The shared suite with GitLab's split: the address in the ID token, the names in userinfo. */
const harness: ProviderHarness = {
  ...oidcHarness(gitlabCom, 'gitlab', ENV),
  approve(url, user) {
    const email = { email: user.email, email_verified: true };
    const names = { name: user.name, nickname: user.username, preferred_username: user.username };
    return gitlabCom.authorize(url, { sub: user.subject, claims: email, userinfo: { ...email, ...names } });
  },
};
providerContract('gitlab', harness, msw);

/**
 * GitLab's documented claims (https://docs.gitlab.com/integration/openid_connect_provider/#shared-information,
 * and where GitLab sets them: config/initializers/doorkeeper_openid_connect.rb): the ID token has
 * `sub`, `sub_legacy`, `auth_time`, `email`, `email_verified` and `groups_direct` (the groups the
 * user is a direct member of); userinfo has the rest, `groups` with the inherited ones too, and the
 * role claims by group path. A claim without a value (no website, no group with that role) is left out.
 */
const GRACE: MockUser = {
  sub: '4821337',
  claims: {
    sub_legacy: '2f0c0bd0a7b3e1c5d1a5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7',
    name: 'Grace Hopper',
    nickname: 'grace',
    preferred_username: 'grace',
    email: 'grace@corp.example',
    email_verified: true,
    profile: 'https://gitlab.com/grace',
    picture: 'https://gitlab.com/uploads/-/system/user/avatar/4821337/avatar.png',
    groups: ['acme', 'acme/platform', 'acme/platform/sre'],
    'https://gitlab.org/claims/groups/owner': ['acme'],
    'https://gitlab.org/claims/groups/developer': ['acme/platform'],
  },
};
const GITLAB_ID_TOKEN = idTokenWith(['sub_legacy', 'email', 'email_verified'], { auth_time: 1_700_000_000, groups_direct: ['acme'] });

describe('gitlab provider', () => {
  it('is gitlab.com unless _URL names an instance: the issuer for discovery', () => {
    expect(parseConfig(ENV).providers[0]).toMatchObject({ type: 'gitlab', issuer: 'https://gitlab.com' });
    expect(parseConfig(SELF_HOSTED).providers[0]).toMatchObject({ issuer: 'https://git.corp.example/gitlab' });
  });

  it('signs a member of an allowed group in: the exact profile, the ID token completed by userinfo', async () => {
    const env = { ...ENV, PROVIDER_GITLAB_ALLOWED_GROUPS: 'acme/platform' };
    const { profile } = await signInAt(gitlabCom, 'gitlab', env, GRACE, GITLAB_ID_TOKEN);
    expect(profile).toEqual({
      subject: '4821337',
      email: 'grace@corp.example',
      emailVerified: true,
      name: 'Grace Hopper',
      preferredUsername: 'grace',
      picture: 'https://gitlab.com/uploads/-/system/user/avatar/4821337/avatar.png',
      groups: ['acme/platform'],
    });
  });

  it('refuses a user in none of the allowed groups (nested groups by their whole path)', async () => {
    for (const groups of ['other', 'platform', 'acme/platform/sre/oncall']) {
      const env = { ...ENV, PROVIDER_GITLAB_ALLOWED_GROUPS: groups };
      const error = await rejection(signInAt(gitlabCom, 'gitlab', env, GRACE, GITLAB_ID_TOKEN));
      expect(error, groups).toMatchObject({ code: 'not_allowed', detail: { rule: 'PROVIDER_GITLAB_ALLOWED_GROUPS' } });
    }
  });

  it('reads inherited memberships (userinfo groups) by default, direct ones with _GROUPS_CLAIM=groups_direct (the ID token)', async () => {
    const platform = { ...ENV, PROVIDER_GITLAB_ALLOWED_GROUPS: 'acme/platform' };
    expect((await signInAt(gitlabCom, 'gitlab', platform, GRACE, GITLAB_ID_TOKEN)).profile.groups).toEqual(['acme/platform']);
    const direct = { ...platform, PROVIDER_GITLAB_GROUPS_CLAIM: 'groups_direct' };
    expect(await rejection(signInAt(gitlabCom, 'gitlab', direct, GRACE, GITLAB_ID_TOKEN))).toMatchObject({ code: 'not_allowed' });
    const acme = { ...direct, PROVIDER_GITLAB_ALLOWED_GROUPS: 'acme' };
    expect((await signInAt(gitlabCom, 'gitlab', acme, GRACE, GITLAB_ID_TOKEN)).profile.groups).toEqual(['acme']);
  });

  it('takes the user name from nickname when an older GitLab sends no preferred_username', async () => {
    const { preferred_username: _, ...claims } = GRACE.claims ?? {};
    const { profile } = await signInAt(gitlabCom, 'gitlab', ENV, { ...GRACE, claims }, GITLAB_ID_TOKEN);
    expect(profile.preferredUsername).toBe('grace');
  });

  it('signs in at a self-hosted instance, found by discovery under its _URL', async () => {
    const { authorizationUrl } = await startLogin(flowDepsFor(SELF_HOSTED), 'gitlab', undefined);
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe('https://git.corp.example/gitlab/oauth/authorize');
    const { profile } = await signInAt(selfHosted, 'gitlab', SELF_HOSTED, GRACE, GITLAB_ID_TOKEN);
    expect(profile.subject).toBe('4821337');
  });

  it('refuses to start with an _ISSUER (the address is _URL), an _URL that is no plain https address, or no secret', () => {
    expect(startupProblems({ ...ENV, PROVIDER_GITLAB_ISSUER: 'https://gitlab.com' })).toEqual([
      expect.stringMatching(/^PROVIDER_GITLAB_ISSUER is not a setting of GitLab \(its settings: .*, PROVIDER_GITLAB_URL\)$/),
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_GITLAB_URL: 'http://git.corp.example' })).toEqual([
      'PROVIDER_GITLAB_URL uses plain http on a non-loopback host (git.corp.example); use https',
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_GITLAB_URL: 'https://git.corp.example/?group=acme' })).toEqual([
      'PROVIDER_GITLAB_URL must be an address like https://sso.example.com, without query, fragment or user name',
    ]);
    expect(startupProblems({ PROVIDER_GITLAB_CLIENT_ID: 'g' })).toEqual(['PROVIDER_GITLAB_CLIENT_SECRET is required for GitLab']);
  });

  it('refuses gitlab.com in production without a rule, naming the provider and the variables; starts with one', () => {
    expect(startupProblems({ ...PRODUCTION_ENV, ...ENV })).toEqual([
      'provider gitlab lets every account of a public provider sign in: set ALLOWED_EMAIL_DOMAINS, PROVIDER_GITLAB_ALLOWED_GROUPS, PROVIDER_GITLAB_ALLOWED_EMAIL_DOMAINS, PROVIDER_GITLAB_ALLOWED_EMAILS, or PROVIDER_GITLAB_ALLOW_ALL=true to let everyone in',
    ]);
    expect(startupProblems({ ...PRODUCTION_ENV, ...ENV, PROVIDER_GITLAB_ALLOWED_GROUPS: 'acme' })).toEqual([]);
    expect(startupProblems({ ...PRODUCTION_ENV, ...ENV, PROVIDER_GITLAB_ALLOW_ALL: 'true' })).toEqual([]);
  });

  it('lets a self-hosted instance start in production without a rule: its users are its owner’s', () => {
    expect(startupProblems({ ...PRODUCTION_ENV, ...SELF_HOSTED })).toEqual([]);
    // gitlab.com named by its address is gitlab.com still.
    expect(startupProblems({ ...PRODUCTION_ENV, ...ENV, PROVIDER_GITLAB_URL: 'https://gitlab.com/' })).toHaveLength(1);
  });
});
