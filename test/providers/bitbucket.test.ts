import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { finishLogin, type LoginDeps, startLogin } from '../../src/flow/login.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { BITBUCKET_KEY, BITBUCKET_SECRET, emailEntry, MockBitbucket, page } from '../support/mock-bitbucket.js';
import { providerContract } from './contract.js';
import { bitbucketHarness } from './harnesses.js';
import { publicPresetStartup } from './public-preset.js';

const bitbucket = new MockBitbucket();
const msw = setupServer(...bitbucket.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = { PROVIDER_BITBUCKET_CLIENT_ID: BITBUCKET_KEY, PROVIDER_BITBUCKET_CLIENT_SECRET: BITBUCKET_SECRET };

providerContract('bitbucket', bitbucketHarness(bitbucket), msw);
publicPresetStartup('bitbucket', 'Bitbucket', ENV);

const EMAILS = 'https://api.bitbucket.org/2.0/user/emails';
const AVATAR =
  'https://secure.gravatar.com/avatar/0123456789abcdef0123456789abcdef?d=https%3A%2F%2Favatar-management--avatars.us-west-2.prod.public.atl-paas.net%2Finitials%2FAL-0.png';

// GET /2.0/user as Bitbucket's reference shows it since the GDPR changes: account_id and uuid, no username.
const ADA = {
  display_name: 'Ada Lovelace',
  links: {
    self: { href: 'https://api.bitbucket.org/2.0/users/%7Bd301aafa-d676-4ee0-88be-962be7417567%7D' },
    avatar: { href: AVATAR },
    html: { href: 'https://bitbucket.org/%7Bd301aafa-d676-4ee0-88be-962be7417567%7D/' },
  },
  created_on: '2018-11-26T13:08:03.063093+00:00',
  type: 'user',
  uuid: '{d301aafa-d676-4ee0-88be-962be7417567}',
  has_2fa_enabled: null,
  is_staff: false,
  account_id: '557058:c0b2d55a-64b2-4d7e-a3c6-ef6ee9ffcb5c',
  nickname: 'ada',
  account_status: 'active',
  location: null,
};

let deps: LoginDeps;
beforeEach(() => {
  deps = flowDepsFor(ENV);
  bitbucket.user = ADA;
  bitbucket.emailPages = { 1: page([emailEntry('old@ada.example', false, true), emailEntry('ada@work.example', true, true)]) };
  bitbucket.emailsStatus = 200;
  bitbucket.apiCalls.length = 0;
});

async function signIn() {
  const started = await startLogin(deps, 'bitbucket', undefined);
  return finishLogin(deps, 'bitbucket', started.flowId, bitbucket.authorize(started.authorizationUrl));
}

describe('Bitbucket sign-in', () => {
  it('builds the profile from /2.0/user, subject the account_id, with the primary confirmed address of /2.0/user/emails', async () => {
    const { profile } = await signIn();
    expect(profile).toEqual({
      subject: '557058:c0b2d55a-64b2-4d7e-a3c6-ef6ee9ffcb5c',
      email: 'ada@work.example',
      emailVerified: true,
      name: 'Ada Lovelace',
      preferredUsername: 'ada',
      picture: AVATAR,
    });
    expect(bitbucket.apiCalls).toEqual(['/2.0/user', '/2.0/user/emails']);
  });

  it('gives the primary address as unverified while it is unconfirmed, never another confirmed one', async () => {
    bitbucket.emailPages = { 1: page([emailEntry('old@ada.example', false, true), emailEntry('new@ada.example', true, false)]) };
    expect((await signIn()).profile).toMatchObject({ email: 'new@ada.example', emailVerified: false });
    deps = flowDepsFor({ ...ENV, PROVIDER_BITBUCKET_ALLOWED_EMAIL_DOMAINS: 'ada.example' });
    expect(await rejection(signIn())).toMatchObject({ code: 'not_allowed', detail: { reason: 'no verified email' } });
  });

  it('finds the primary address on a later page, but follows no next link off the list', async () => {
    bitbucket.emailPages = {
      1: page([emailEntry('old@ada.example', false, true)], `${EMAILS}?page=2`),
      2: page([emailEntry('ada@work.example', true, true)]),
    };
    expect((await signIn()).profile).toMatchObject({ email: 'ada@work.example', emailVerified: true });
    expect(bitbucket.apiCalls).toEqual(['/2.0/user', '/2.0/user/emails', '/2.0/user/emails?page=2']);
    // Another host, or another list of the API: the access token is not sent there (msw would fail the request).
    for (const next of ['https://evil.example/2.0/user/emails?page=2', 'https://api.bitbucket.org/2.0/repositories?page=2']) {
      bitbucket.emailPages = { 1: page([emailEntry('old@ada.example', false, true)], next) };
      expect((await signIn()).profile.email, next).toBeUndefined();
    }
  });

  it('signs in without an email when the consumer lacks the email permission (403), or lists none; fails on a 500', async () => {
    bitbucket.emailsStatus = 403;
    const { profile } = await signIn();
    expect(profile).toMatchObject({ subject: ADA.account_id, preferredUsername: 'ada' });
    expect(profile.email).toBeUndefined();
    expect(profile.emailVerified).toBeUndefined();
    bitbucket.emailsStatus = 200;
    bitbucket.emailPages = { 1: page([{ is_primary: true, is_confirmed: true }, 'ada@work.example']) };
    expect((await signIn()).profile.email).toBeUndefined();
    bitbucket.emailsStatus = 500;
    expect((await rejection(signIn())).code).toBe('profile_unavailable');
  });

  it('gives no picture when /2.0/user links none', async () => {
    bitbucket.user = { ...ADA, links: { self: ADA.links.self } };
    expect((await signIn()).profile.picture).toBeUndefined();
  });

  it('reports /2.0/user without an account_id as profile_unavailable, even with a uuid', async () => {
    const { account_id: _accountId, ...withoutAccountId } = ADA;
    bitbucket.user = withoutAccountId;
    expect(await rejection(signIn())).toMatchObject({
      code: 'profile_unavailable',
      detail: { provider: 'bitbucket', reason: 'Bitbucket /2.0/user response has no account_id' },
    });
  });

  it("authenticates at the token endpoint with the consumer's key and secret as HTTP Basic, as Bitbucket documents", async () => {
    await signIn();
    const request = bitbucket.token.requests.at(-1)!;
    expect(request).toMatchObject({ method: 'client_secret_basic', clientId: BITBUCKET_KEY, clientSecret: BITBUCKET_SECRET });
    expect(request.form.has('client_secret')).toBe(false);
    expect(request.form.get('grant_type')).toBe('authorization_code');
    expect(request.form.get('code_verifier')).toMatch(/^[\w-]{43}$/);
  });
});
