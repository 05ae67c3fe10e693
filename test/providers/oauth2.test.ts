import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { finishLogin, startLogin, type LoginDeps } from '../../src/flow/login.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { MockOAuth2Server } from '../support/mock-oauth2.js';
import { providerContract } from './contract.js';
import { oauth2Harness } from './harnesses.js';
import { startupProblems } from '../support/config.js';

const sso = new MockOAuth2Server('https://sso.example.net');
const local = new MockOAuth2Server('http://127.0.0.1:9711');
const msw = setupServer(...sso.handlers(), ...local.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

providerContract('oauth2', oauth2Harness(sso), msw);

let deps: LoginDeps;
function useProvider(env: Record<string, string>) {
  deps = flowDepsFor(env);
}

beforeEach(() => {
  useProvider(sso.env());
  sso.meStatus = 200;
});

async function signIn(server = sso) {
  const started = await startLogin(deps, 'sso', undefined);
  return finishLogin(deps, 'sso', started.flowId, server.authorize(started.authorizationUrl));
}

describe('oauth2 provider: the authorization request', () => {
  it('goes to the configured endpoint with PKCE, the configured scopes and no nonce', async () => {
    useProvider(sso.env({ PROVIDER_SSO_SCOPES: 'profile,email' }));
    const { authorizationUrl } = await startLogin(deps, 'sso', undefined);
    const params = authorizationUrl.searchParams;
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe('https://sso.example.net/oauth/authorize');
    expect(params.get('client_id')).toBe('sso-client');
    expect(params.get('scope')).toBe('profile email');
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.has('nonce')).toBe(false);
  });

  it('sends no scope parameter when none is configured', async () => {
    const { authorizationUrl } = await startLogin(deps, 'sso', undefined);
    expect(authorizationUrl.searchParams.has('scope')).toBe(false);
  });
});

describe('oauth2 provider: the profile', () => {
  it('maps the standard fields of the userinfo answer', async () => {
    sso.me = {
      sub: 'u-17',
      email: 'grace@example.net',
      email_verified: true,
      name: 'Grace Hopper',
      preferred_username: 'grace',
      picture: 'https://sso.example.net/avatars/17.png',
      groups: ['admins'],
    };
    const { profile, returnTo } = await signIn();
    expect(profile).toEqual({
      subject: 'u-17',
      email: 'grace@example.net',
      emailVerified: true,
      name: 'Grace Hopper',
      preferredUsername: 'grace',
      picture: 'https://sso.example.net/avatars/17.png',
    });
    expect(returnTo).toBe('https://gateway.test/');
  });

  it('takes the subject from sub, else from a numeric id', async () => {
    sso.me = { sub: 'from-sub', id: 5 };
    expect((await signIn()).profile.subject).toBe('from-sub');
    sso.me = { id: 4242, email: 'n@example.net' };
    expect((await signIn()).profile).toMatchObject({ subject: '4242', email: 'n@example.net', emailVerified: false });
  });

  it('takes the subject only from PROVIDER_<ID>_SUBJECT_CLAIM when it is set', async () => {
    useProvider(sso.env({ PROVIDER_SSO_SUBJECT_CLAIM: 'user_id' }));
    sso.me = { sub: 'ignored', id: 1, user_id: 'emp-0042' };
    expect((await signIn()).profile.subject).toBe('emp-0042');
    // No fallback to sub or id: a missing claim is an error, not another user's identifier.
    sso.me = { sub: 'someone', id: 1 };
    const error = await rejection(signIn());
    expect(error.code).toBe('profile_unavailable');
    expect(error.detail.reason).toBe('userinfo response has no user_id');
  });

  it('believes email_verified only as true or "true"', async () => {
    for (const [claim, verified] of [
      [true, true],
      ['true', true],
      [false, false],
      ['yes', false],
      [undefined, false],
    ] as const) {
      sso.me = { sub: 'u', email: 'e@example.net', ...(claim === undefined ? {} : { email_verified: claim }) };
      expect((await signIn()).profile.emailVerified, String(claim)).toBe(verified);
    }
  });

  it('reports a userinfo answer without any subject, or not an object, as profile_unavailable', async () => {
    sso.me = { email: 'nobody@example.net' };
    expect((await rejection(signIn())).code).toBe('profile_unavailable');
    sso.me = [{ sub: 'u' }];
    expect((await rejection(signIn())).code).toBe('profile_unavailable');
  });

  it('reports a failing userinfo endpoint as profile_unavailable', async () => {
    sso.me = { sub: 'u' };
    sso.meStatus = 503;
    expect((await rejection(signIn())).code).toBe('profile_unavailable');
  });
});

describe('oauth2 provider: the code exchange', () => {
  it('authenticates a public client with its id only, and a confidential one with its secret', async () => {
    sso.me = { sub: 'u' };
    await signIn();
    const publicForm = sso.tokenForms.at(-1)!;
    expect(publicForm.get('client_id')).toBe('sso-client');
    expect(publicForm.has('client_secret')).toBe(false);
    expect(publicForm.get('redirect_uri')).toBe('https://gateway.test/callback/sso');

    useProvider(sso.env({ PROVIDER_SSO_CLIENT_SECRET: 's3cret' }));
    await signIn();
    expect(sso.tokenForms.at(-1)!.get('client_secret')).toBe('s3cret');
  });

  it('reports a refused code as token_exchange_failed', async () => {
    const started = await startLogin(deps, 'sso', undefined);
    const callback = sso.authorize(started.authorizationUrl);
    callback.set('code', 'forged');
    const error = await rejection(finishLogin(deps, 'sso', started.flowId, callback));
    expect(error.code).toBe('token_exchange_failed');
    expect(error.detail.oauth_error).toBe('invalid_grant');
  });

  it('works over plain http on a loopback host', async () => {
    useProvider(local.env());
    local.me = { sub: 'dev-user' };
    expect((await signIn(local)).profile.subject).toBe('dev-user');
  });
});

describe('oauth2 presets at start-up', () => {
  it('refuse a group rule, which an OAuth 2.0 profile (no groups claim) could never pass', () => {
    expect(startupProblems(sso.env({ PROVIDER_SSO_ALLOWED_GROUPS: 'staff', PROVIDER_SSO_GROUPS_CLAIM: 'roles' }))).toEqual([
      "PROVIDER_SSO_ALLOWED_GROUPS needs an OpenID provider's groups claim: oauth2 is OAuth 2.0 and sends none",
      "PROVIDER_SSO_GROUPS_CLAIM needs an OpenID provider's groups claim: oauth2 is OAuth 2.0 and sends none",
    ]);
    expect(
      startupProblems({ PROVIDER_GITHUB_CLIENT_ID: 'c', PROVIDER_GITHUB_CLIENT_SECRET: 's', PROVIDER_GITHUB_ALLOWED_GROUPS: 'acme' }),
    ).toEqual(["PROVIDER_GITHUB_ALLOWED_GROUPS needs an OpenID provider's groups claim: github is OAuth 2.0 and sends none"]);
  });
});
