import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { finishLogin, startLogin } from '../../src/flow/login.js';
import { defineProvider, presets } from '../../src/providers/index.js';
import { twitch as twitchPreset } from '../../src/providers/twitch.js';
import { PRODUCTION_ENV } from '../support/app.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { MockOidcProvider, type MockUser } from '../support/mock-oidc.js';
import { providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';
import { startupProblems } from '../support/config.js';

// Twitch at the network edge, as "Using OIDC to get OAuth Access Tokens" documents it
// (dev.twitch.tv/docs/authentication/getting-tokens-oidc), its discovery document included: the
// secret in the form body only, JWKS at /oauth2/keys, no RFC 9207 `iss`; `email`, `email_verified`,
// `preferred_username` and `picture` only where the `claims` parameter asks; the token response's
// `scope` a JSON array; a refused code answered 400 `{"status": 400, "message": ...}`, no `error`.
const ON_REQUEST = ['email', 'email_verified', 'preferred_username', 'picture'];
const twitch = await new MockOidcProvider('https://id.twitch.tv/oauth2', {
  sendsIss: false,
  endpoints: { jwks: 'https://id.twitch.tv/oauth2/keys' },
  discovery: {
    claims_parameter_supported: true,
    claims_supported: [...ON_REQUEST, 'exp', 'iss', 'sub', 'azp', 'aud', 'iat', 'updated_at'],
    response_types_supported: ['id_token', 'code', 'token', 'code id_token', 'token id_token'],
    scopes_supported: ['openid'],
    code_challenge_methods_supported: undefined,
    authorization_response_iss_parameter_supported: undefined,
  },
  clientAuth: ['client_secret_post'],
  claimsOnRequest: ON_REQUEST,
  tokenResponse: (body) => ({
    ...body,
    expires_in: 14124,
    refresh_token: '5b93chm63hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01',
    scope: ['openid', 'user:read:email'],
    token_type: 'bearer',
  }),
}).init();
twitch.tokenEndpointAuthMethods = ['client_secret_post'];
const msw = setupServer(...twitch.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
afterEach(() => {
  twitch.tokenError = undefined;
  twitch.tokenEndpointAuthMethods = ['client_secret_post'];
});

const ENV = { PROVIDER_TWITCH_CLIENT_ID: twitch.clientId, PROVIDER_TWITCH_CLIENT_SECRET: twitch.clientSecret };

providerContract('twitch', oidcHarness(twitch, 'twitch', ENV, 'openid user:read:email'), msw);

const PICTURE = 'https://static-cdn.jtvnw.net/jtv_user_pictures/8a6381c7-d0c0-4576-b179-38bd5ce1d6af-profile_image-150x150.png';

/** The user of Twitch's documentation, with the claims it would send when asked. */
const viewer: MockUser = {
  sub: '713936733',
  claims: {
    azp: twitch.clientId,
    email: 'scotwht@justin.tv',
    email_verified: true,
    picture: PICTURE,
    preferred_username: 'scotwht',
    updated_at: '2022-02-19T22:15:09Z',
  },
};

async function signIn(env: Record<string, string> = ENV, registry = presets, id = 'twitch') {
  const deps = flowDepsFor(env, registry);
  const started = await startLogin(deps, id, '/');
  return { started, finished: finishLogin(deps, id, started.flowId, twitch.authorize(started.authorizationUrl, viewer)) };
}

describe('twitch provider', () => {
  it('signs a viewer in: the claims it asked for, the display name as name; the issuer Twitch’s', async () => {
    const { finished } = await signIn();
    expect((await finished).profile).toEqual({
      subject: '713936733',
      email: 'scotwht@justin.tv',
      emailVerified: true,
      name: 'scotwht',
      preferredUsername: 'scotwht',
      picture: PICTURE,
    });
    expect(parseConfig(ENV).providers[0]).toMatchObject({ id: 'twitch', type: 'twitch', issuer: 'https://id.twitch.tv/oauth2' });
  });

  it('asks for email, email_verified, preferred_username and picture with the claims parameter, in the ID token and userinfo', async () => {
    const { started } = await signIn();
    const asked = { email: null, email_verified: null, preferred_username: null, picture: null };
    expect(JSON.parse(started.authorizationUrl.searchParams.get('claims') ?? '')).toEqual({ id_token: asked, userinfo: asked });
    expect(started.authorizationUrl.searchParams.get('scope')).toBe('openid user:read:email');
  });

  it('accepts the token response’s scope as the JSON array Twitch sends, which openid-client alone refuses', async () => {
    await expect((await signIn()).finished).resolves.toMatchObject({ profile: { subject: '713936733' } });
    const strict = defineProvider({ ...twitchPreset, type: 'twitch-strict', conformTokenResponse: undefined });
    const env = {
      PROVIDER_TV_CLIENT_ID: twitch.clientId,
      PROVIDER_TV_CLIENT_SECRET: twitch.clientSecret,
      PROVIDER_TV_TYPE: 'twitch-strict',
    };
    const { finished } = await signIn(env, { ...presets, 'twitch-strict': strict }, 'tv');
    expect(await rejection(finished)).toMatchObject({
      code: 'token_exchange_failed',
      detail: { reason: '"response" body "scope" property must be a string' },
    });
  });

  it('reports Twitch’s refusal of a code, which carries no OAuth error, as token_exchange_failed', async () => {
    twitch.tokenError = { status: 400, body: { status: 400, message: 'Invalid authorization code' } };
    const error = await rejection((await signIn()).finished);
    expect(error).toMatchObject({ code: 'token_exchange_failed', detail: { provider: 'twitch' } });
    expect(error.message).not.toContain('Invalid authorization code');
  });

  it('sends the client secret in the form body, even were discovery to offer HTTP Basic', async () => {
    twitch.tokenEndpointAuthMethods = ['client_secret_basic', 'client_secret_post'];
    await (await signIn()).finished;
    const request = twitch.tokenRequests.at(-1)!;
    expect([request.clientAuth, request.authorizationHeader, request.form.get('client_secret')]).toEqual([
      'client_secret_post',
      false,
      twitch.clientSecret,
    ]);
  });

  it('refuses to start without a client secret, and with a setting Twitch does not take', () => {
    const refused = startupProblems;
    expect(refused({ PROVIDER_TWITCH_CLIENT_ID: 't' })).toEqual(['PROVIDER_TWITCH_CLIENT_SECRET is required for Twitch']);
    expect(refused({ ...ENV, PROVIDER_TWITCH_TEAM_ID: 'T0123' })).toEqual([
      expect.stringMatching(
        /^PROVIDER_TWITCH_TEAM_ID is not a setting of Twitch \(its settings: PROVIDER_TWITCH_CLIENT_ID, .*PROVIDER_TWITCH_ISSUER\)$/,
      ),
    ]);
  });

  it('is a public provider: production refuses it without a rule, naming it and what to set, and starts with one or _ALLOW_ALL', () => {
    const problems = startupProblems({ ...PRODUCTION_ENV, ...ENV });
    expect(problems).toEqual([
      'provider twitch lets every account of a public provider sign in: set ALLOWED_EMAIL_DOMAINS, PROVIDER_TWITCH_ALLOWED_EMAIL_DOMAINS, PROVIDER_TWITCH_ALLOWED_EMAILS, or PROVIDER_TWITCH_ALLOW_ALL=true to let everyone in',
    ]);
    for (const rule of [{ PROVIDER_TWITCH_ALLOWED_EMAILS: 'scotwht@justin.tv' }, { PROVIDER_TWITCH_ALLOW_ALL: 'true' }]) {
      expect(parseConfig({ ...PRODUCTION_ENV, ...ENV, ...rule }).providers[0]?.id).toBe('twitch');
    }
  });
});
