import { ID_TOKEN_INVALID, PROFILE_UNAVAILABLE } from '../../src/errors.js';
import { GITHUB_CLIENT_ID, type MockGitHub } from '../support/mock-github.js';
import type { MockOAuth2Server } from '../support/mock-oauth2.js';
import type { MockOidcProvider } from '../support/mock-oidc.js';
import type { ContractUser, ProviderHarness } from './contract.js';

/** An OpenID provider on the msw mock: any preset of protocol oidc (oidc, google, microsoft); `scope` its default scopes' when not OIDC's. */
export function oidcHarness(
  idp: MockOidcProvider,
  id: string,
  env: Record<string, string>,
  scope = 'openid profile email',
): ProviderHarness {
  return {
    id,
    env,
    protocol: 'oidc',
    authorizationEndpoint: idp.endpoints.authorization,
    pkce: idp.pkce,
    nonce: idp.echoesNonce,
    clientId: idp.clientId,
    scope,
    approve: (url, user: ContractUser) =>
      idp.authorize(url, {
        sub: user.subject,
        claims: { email: user.email, email_verified: true, name: user.name, preferred_username: user.username },
      }),
    exchanges: () => idp.tokenRequests.length,
    refuseExchange() {
      idp.tokenError = { status: 400, body: { error: 'invalid_grant', error_description: 'code expired' } };
    },
    corrupt() {
      idp.idTokenOverride = (claims) => ({ ...claims, aud: 'another-client' });
      return ID_TOKEN_INVALID;
    },
    reset() {
      idp.tokenError = undefined;
      idp.idTokenOverride = undefined;
    },
  };
}

/** GitHub (github.com) on its msw mock. */
export function githubHarness(github: MockGitHub): ProviderHarness {
  return {
    id: 'github',
    env: { PROVIDER_GITHUB_CLIENT_ID: GITHUB_CLIENT_ID, PROVIDER_GITHUB_CLIENT_SECRET: 'gh-secret' },
    protocol: 'oauth2',
    authorizationEndpoint: 'https://github.com/login/oauth/authorize',
    clientId: GITHUB_CLIENT_ID,
    scope: 'read:user user:email',
    approve(url, user) {
      github.user = { id: Number(user.subject), login: user.username, name: user.name, avatar_url: null };
      github.emails = [{ email: user.email, primary: true, verified: true }];
      return github.authorize(url);
    },
    exchanges: () => github.exchanges,
    refuseExchange() {
      github.tokenFailure = { status: 400, body: { error: 'invalid_grant' } };
    },
    corrupt() {
      // /user without the numeric id every account has: no stable subject to sign in.
      github.userWithoutId = true;
      return PROFILE_UNAVAILABLE;
    },
    reset() {
      github.tokenFailure = undefined;
      github.userWithoutId = false;
    },
  };
}

/** A plain OAuth 2.0 provider (type oauth2, explicit endpoints) on its msw mock, as provider `sso`. */
export function oauth2Harness(server: MockOAuth2Server): ProviderHarness {
  let corrupted = false;
  return {
    id: 'sso',
    env: server.env({ PROVIDER_SSO_SCOPES: 'profile email' }),
    protocol: 'oauth2',
    authorizationEndpoint: `${server.origin}/oauth/authorize`,
    clientId: 'sso-client',
    scope: 'profile email',
    approve(url, user) {
      const me = { sub: user.subject, email: user.email, email_verified: true, name: user.name, preferred_username: user.username };
      server.me = corrupted ? { ...me, sub: undefined } : me;
      return server.authorize(url);
    },
    exchanges: () => server.tokenForms.length,
    refuseExchange() {
      server.tokenFailure = 'invalid_grant';
    },
    corrupt() {
      corrupted = true;
      return PROFILE_UNAVAILABLE;
    },
    reset() {
      server.tokenFailure = undefined;
      corrupted = false;
    },
  };
}
