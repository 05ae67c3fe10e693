import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { finishLogin, type LoginDeps, startLogin } from '../../src/flow/login.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { FACEBOOK_APP_ID, FACEBOOK_APP_SECRET, graphError, MockFacebook } from '../support/mock-facebook.js';
import { providerContract } from './contract.js';
import { facebookHarness } from './harnesses.js';
import { publicPresetStartup } from './public-preset.js';

const facebook = new MockFacebook();
const msw = setupServer(...facebook.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = { PROVIDER_FACEBOOK_CLIENT_ID: FACEBOOK_APP_ID, PROVIDER_FACEBOOK_CLIENT_SECRET: FACEBOOK_APP_SECRET };

providerContract('facebook', facebookHarness(facebook), msw);
publicPresetStartup('facebook', 'Facebook', ENV, { unverifiedEmails: true });

// GET /me?fields=id,name,email,picture as the Graph API reference shows it: the app-scoped id, and
// the picture nested under picture.data.
const ADA = {
  id: '10158123456789012',
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  picture: {
    data: {
      height: 50,
      is_silhouette: false,
      url: 'https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=10158123456789012&height=50&width=50&ext=1700000000&hash=AbC',
      width: 50,
    },
  },
  // Not asked for, so not answered.
  birthday: '12/10/1815',
};

let deps: LoginDeps;
beforeEach(() => {
  deps = flowDepsFor(ENV);
  facebook.user = ADA;
  facebook.meStatus = 200;
  facebook.apiCalls.length = 0;
});

async function signIn() {
  const started = await startLogin(deps, 'facebook', undefined);
  return finishLogin(deps, 'facebook', started.flowId, facebook.authorize(started.authorizationUrl));
}

describe('Facebook sign-in', () => {
  it('sends the user to the versioned login dialog with the email and public_profile permissions', async () => {
    const { authorizationUrl } = await startLogin(deps, 'facebook', undefined);
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe('https://www.facebook.com/v24.0/dialog/oauth');
    expect(authorizationUrl.searchParams.get('scope')).toBe('email public_profile');
  });

  it('builds the profile from /me: the app-scoped id, the name, the nested picture; the email unverified', async () => {
    const { profile } = await signIn();
    expect(profile).toEqual({
      subject: '10158123456789012',
      email: 'ada@example.com',
      emailVerified: false,
      name: 'Ada Lovelace',
      picture: ADA.picture.data.url,
    });
    expect(facebook.apiCalls).toEqual(['/v24.0/me?fields=id,name,email,picture']);
  });

  it('lets no email rule take a Facebook address: Facebook does not say it is verified, so start-up refuses one', () => {
    expect(() => flowDepsFor({ ...ENV, PROVIDER_FACEBOOK_ALLOWED_EMAILS: 'ada@example.com' })).toThrow(
      /PROVIDER_FACEBOOK_ALLOWED_EMAILS can never let a user of provider facebook in/,
    );
  });

  it('signs in without an email when the user has none or declined the email permission', async () => {
    const { email: _email, ...withoutEmail } = ADA;
    facebook.user = withoutEmail;
    const { profile } = await signIn();
    expect(profile).toEqual({ subject: ADA.id, name: 'Ada Lovelace', picture: ADA.picture.data.url });
  });

  it("gives no picture for Facebook's silhouette of a user without one, nor when there is no picture", async () => {
    facebook.user = { ...ADA, picture: { data: { ...ADA.picture.data, is_silhouette: true } } };
    expect((await signIn()).profile.picture).toBeUndefined();
    facebook.user = { ...ADA, picture: { data: 'not an object' } };
    expect((await signIn()).profile.picture).toBeUndefined();
    const { picture: _picture, ...withoutPicture } = ADA;
    facebook.user = withoutPicture;
    expect((await signIn()).profile).toMatchObject({ subject: ADA.id, picture: undefined });
  });

  it('reports /me without an id, or failing, as profile_unavailable', async () => {
    const { id: _id, ...withoutId } = ADA;
    facebook.user = withoutId;
    expect(await rejection(signIn())).toMatchObject({
      code: 'profile_unavailable',
      detail: { provider: 'facebook', reason: 'Facebook /me response has no id' },
    });
    facebook.user = ADA;
    facebook.meStatus = 500;
    expect((await rejection(signIn())).code).toBe('profile_unavailable');
  });

  it('sends the app secret in the form body, never as HTTP Basic, with the PKCE verifier', async () => {
    await signIn();
    const request = facebook.token.requests.at(-1)!;
    expect(request).toMatchObject({ method: 'client_secret_post', clientId: FACEBOOK_APP_ID, clientSecret: FACEBOOK_APP_SECRET });
    expect(request.form.get('grant_type')).toBe('authorization_code');
    expect(request.form.get('redirect_uri')).toBe('https://gateway.test/callback/facebook');
    expect(request.form.get('code_verifier')).toMatch(/^[\w-]{43}$/);
  });

  it("reports Facebook's own refusal of a used code (an error object, not a string) as token_exchange_failed", async () => {
    facebook.token.failure = { status: 400, body: graphError('This authorization code has been used.', 100, 36009) };
    try {
      const error = await rejection(signIn());
      expect(error.code).toBe('token_exchange_failed');
      expect(error.detail.provider).toBe('facebook');
      expect(error.message).not.toContain('authorization code');
      expect(facebook.apiCalls).toEqual([]);
    } finally {
      facebook.token.failure = undefined;
    }
  });
});
