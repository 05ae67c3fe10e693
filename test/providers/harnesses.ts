import { ID_TOKEN_INVALID, PROFILE_UNAVAILABLE } from '../../src/errors.js';
import { BITBUCKET_KEY, BITBUCKET_SECRET, emailEntry, type MockBitbucket, page } from '../support/mock-bitbucket.js';
import { DISCORD_CLIENT_ID, DISCORD_CLIENT_SECRET, type MockDiscord } from '../support/mock-discord.js';
import { FACEBOOK_APP_ID, FACEBOOK_APP_SECRET, FACEBOOK_DIALOG, type MockFacebook } from '../support/mock-facebook.js';
import { GITHUB_CLIENT_ID, type MockGitHub } from '../support/mock-github.js';
import type { MockOAuth2Server } from '../support/mock-oauth2.js';
import type { MockTokenEndpoint } from '../support/oauth-server.js';
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

/**
 * What the three social mocks (Facebook, Discord, Bitbucket) do alike for the contract: the token
 * endpoint refuses codes RFC 6749's way, and the user API answers without the user's id.
 */
function socialHarness(
  mock: { token: MockTokenEndpoint; authorize(url: URL): URLSearchParams },
  base: Omit<ProviderHarness, 'approve' | 'exchanges' | 'refuseExchange' | 'corrupt' | 'reset'>,
  userOf: (user: ContractUser, withId: boolean) => void,
): ProviderHarness {
  let corrupted = false;
  return {
    ...base,
    approve(url, user) {
      userOf(user, !corrupted);
      return mock.authorize(url);
    },
    exchanges: () => mock.token.requests.length,
    refuseExchange() {
      // RFC 6749's shape, which the contract reads back; Facebook's own error object is its test's.
      mock.token.failure = { status: 400, body: { error: 'invalid_grant' } };
    },
    corrupt() {
      corrupted = true;
      return PROFILE_UNAVAILABLE;
    },
    reset() {
      mock.token.failure = undefined;
      corrupted = false;
    },
  };
}

/** Facebook on its msw mock: it has no user names, and portero counts no Facebook address as verified. */
export function facebookHarness(facebook: MockFacebook): ProviderHarness {
  return socialHarness(
    facebook,
    {
      id: 'facebook',
      env: { PROVIDER_FACEBOOK_CLIENT_ID: FACEBOOK_APP_ID, PROVIDER_FACEBOOK_CLIENT_SECRET: FACEBOOK_APP_SECRET },
      protocol: 'oauth2',
      authorizationEndpoint: FACEBOOK_DIALOG,
      clientId: FACEBOOK_APP_ID,
      scope: 'email public_profile',
      profileQuirks: { emailVerified: false, preferredUsername: undefined },
    },
    (user, withId) => {
      facebook.user = { ...(withId ? { id: user.subject } : {}), name: user.name, email: user.email };
    },
  );
}

/** Discord on its msw mock. */
export function discordHarness(discord: MockDiscord): ProviderHarness {
  return socialHarness(
    discord,
    {
      id: 'discord',
      env: { PROVIDER_DISCORD_CLIENT_ID: DISCORD_CLIENT_ID, PROVIDER_DISCORD_CLIENT_SECRET: DISCORD_CLIENT_SECRET },
      protocol: 'oauth2',
      authorizationEndpoint: 'https://discord.com/oauth2/authorize',
      clientId: DISCORD_CLIENT_ID,
      scope: 'identify email',
    },
    (user, withId) => {
      discord.user = {
        ...(withId ? { id: user.subject } : {}),
        username: user.username,
        discriminator: '0',
        global_name: user.name,
        avatar: null,
        email: user.email,
        verified: true,
      };
    },
  );
}

/** Bitbucket Cloud on its msw mock. */
export function bitbucketHarness(bitbucket: MockBitbucket): ProviderHarness {
  return socialHarness(
    bitbucket,
    {
      id: 'bitbucket',
      env: { PROVIDER_BITBUCKET_CLIENT_ID: BITBUCKET_KEY, PROVIDER_BITBUCKET_CLIENT_SECRET: BITBUCKET_SECRET },
      protocol: 'oauth2',
      authorizationEndpoint: 'https://bitbucket.org/site/oauth2/authorize',
      clientId: BITBUCKET_KEY,
      scope: 'account email',
    },
    (user, withId) => {
      bitbucket.user = {
        ...(withId ? { account_id: user.subject } : {}),
        uuid: '{d301aafa-d676-4ee0-88be-962be7417567}',
        display_name: user.name,
        nickname: user.username,
        type: 'user',
      };
      bitbucket.emailPages = { 1: page([emailEntry(user.email, true, true)]) };
    },
  );
}
