import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { finishLogin, type LoginDeps, startLogin } from '../../src/flow/login.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { DISCORD_CLIENT_ID, DISCORD_CLIENT_SECRET, MockDiscord } from '../support/mock-discord.js';
import { providerContract } from './contract.js';
import { discordHarness } from './harnesses.js';
import { publicPresetStartup } from './public-preset.js';

const discord = new MockDiscord();
const msw = setupServer(...discord.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = { PROVIDER_DISCORD_CLIENT_ID: DISCORD_CLIENT_ID, PROVIDER_DISCORD_CLIENT_SECRET: DISCORD_CLIENT_SECRET };

providerContract('discord', discordHarness(discord), msw);
publicPresetStartup('discord', 'Discord', ENV);

// A user object as Discord's reference shows it (with the email scope): the snowflake id a string.
const NELLY = {
  id: '80351110224678912',
  username: 'nelly',
  discriminator: '0',
  global_name: 'Nelly',
  avatar: '8342729096ea3675442027381ff50dfe',
  verified: true,
  email: 'nelly@discord.com',
  flags: 64,
  banner: '06c16474723fe537c283b8efa61a30c8',
  accent_color: 16711680,
  premium_type: 1,
  public_flags: 64,
  mfa_enabled: true,
  locale: 'en-US',
};

let deps: LoginDeps;
beforeEach(() => {
  deps = flowDepsFor(ENV);
  discord.user = NELLY;
  discord.meStatus = 200;
});

async function signIn() {
  const started = await startLogin(deps, 'discord', undefined);
  return finishLogin(deps, 'discord', started.flowId, discord.authorize(started.authorizationUrl));
}

describe('Discord sign-in', () => {
  it('builds the profile from /users/@me: display name, user name, verified email, avatar from id and hash', async () => {
    const { profile } = await signIn();
    expect(profile).toEqual({
      subject: '80351110224678912',
      email: 'nelly@discord.com',
      emailVerified: true,
      name: 'Nelly',
      preferredUsername: 'nelly',
      picture: 'https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png',
    });
  });

  it('gives the email as unverified when Discord says it is not (verified: false), or does not say', async () => {
    discord.user = { ...NELLY, verified: false };
    expect((await signIn()).profile).toMatchObject({ email: 'nelly@discord.com', emailVerified: false });
    const { verified: _verified, ...unsaid } = NELLY;
    discord.user = unsaid;
    expect((await signIn()).profile).toMatchObject({ email: 'nelly@discord.com', emailVerified: false });
    deps = flowDepsFor({ ...ENV, PROVIDER_DISCORD_ALLOWED_EMAIL_DOMAINS: 'discord.com' });
    expect(await rejection(signIn())).toMatchObject({ code: 'not_allowed', detail: { reason: 'no verified email' } });
  });

  it('signs in without an email when Discord gives none (no email scope, or a phone-only account)', async () => {
    discord.user = { ...NELLY, email: null, verified: false };
    const { profile } = await signIn();
    expect(profile.email).toBeUndefined();
    expect(profile.emailVerified).toBeUndefined();
  });

  it('uses the user name as the name when there is no display name, and name#1234 for a user not yet migrated', async () => {
    discord.user = { ...NELLY, global_name: null };
    expect((await signIn()).profile).toMatchObject({ name: 'nelly', preferredUsername: 'nelly' });
    discord.user = { ...NELLY, username: 'Nelly', discriminator: '1337', global_name: null };
    expect((await signIn()).profile).toMatchObject({ name: 'Nelly', preferredUsername: 'Nelly#1337' });
  });

  it('gives no picture without an avatar hash, nor for a hash that is no hash; an animated one as its png', async () => {
    discord.user = { ...NELLY, avatar: null };
    expect((await signIn()).profile.picture).toBeUndefined();
    discord.user = { ...NELLY, avatar: '../../../attachments/x' };
    expect((await signIn()).profile.picture).toBeUndefined();
    discord.user = { ...NELLY, avatar: 'a_1269e74af4df7417b13759eae50c83dc' };
    expect((await signIn()).profile.picture).toBe(
      'https://cdn.discordapp.com/avatars/80351110224678912/a_1269e74af4df7417b13759eae50c83dc.png',
    );
  });

  it('reports /users/@me without an id, with a numeric id past 2^53, or failing, as profile_unavailable', async () => {
    const { id: _id, ...withoutId } = NELLY;
    discord.user = withoutId;
    expect(await rejection(signIn())).toMatchObject({
      code: 'profile_unavailable',
      detail: { provider: 'discord', reason: 'Discord /users/@me response has no id' },
    });
    // 80351110224678912 as a JSON number is not that integer: no subject rather than another user's.
    discord.user = { ...NELLY, id: 80351110224678912 };
    expect((await rejection(signIn())).code).toBe('profile_unavailable');
    discord.user = NELLY;
    discord.meStatus = 502;
    expect((await rejection(signIn())).code).toBe('profile_unavailable');
  });

  it('authenticates at the token endpoint with HTTP Basic, as Discord documents, the secret not in the body', async () => {
    await signIn();
    const request = discord.token.requests.at(-1)!;
    expect(request).toMatchObject({ method: 'client_secret_basic', clientId: DISCORD_CLIENT_ID, clientSecret: DISCORD_CLIENT_SECRET });
    expect(request.form.has('client_secret')).toBe(false);
    expect(request.form.get('redirect_uri')).toBe('https://gateway.test/callback/discord');
    expect(request.form.get('code_verifier')).toMatch(/^[\w-]{43}$/);
  });
});
