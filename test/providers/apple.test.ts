import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigError, parseConfig } from '../../src/config/parse.js';
import { finishLogin, startLogin } from '../../src/flow/login.js';
import { buildTestApp, memoryStore, PRODUCTION_ENV } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { type ProviderHarness, providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';

// Sign in with Apple at the network edge, as Apple documents it ("Sign in with Apple REST API"):
// discovery at https://appleid.apple.com, the endpoints under /auth, the client secret taken in
// the form body only, no userinfo endpoint, no `iss` in callbacks, `email_verified` as a string,
// and the name only in the first sign-in's `user` form field.
const idp = await new MockOidcProvider('https://appleid.apple.com', {
  sendsIss: false,
  endpoints: {
    authorization: 'https://appleid.apple.com/auth/authorize',
    token: 'https://appleid.apple.com/auth/token',
    jwks: 'https://appleid.apple.com/auth/keys',
  },
  discovery: { userinfo_endpoint: undefined },
}).init();
idp.tokenEndpointAuthMethods = ['client_secret_post'];
idp.responseModes = ['query', 'fragment', 'form_post'];
const msw = setupServer(...idp.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const dir = mkdtempSync(join(tmpdir(), 'portero-apple-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const P8 = join(dir, 'AuthKey_ABC123DEFG.p8');
writeFileSync(P8, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

const TEAM_ID = 'TEAM123456';
const ENV = {
  PROVIDER_APPLE_CLIENT_ID: idp.clientId,
  PROVIDER_APPLE_TEAM_ID: TEAM_ID,
  PROVIDER_APPLE_KEY_ID: 'ABC123DEFG',
  PROVIDER_APPLE_PRIVATE_KEY_FILE: P8,
};

/** Every client secret Apple received, as verified with the team's public key. */
const secrets: string[] = [];
idp.verifyClientSecret = async (secret) => {
  secrets.push(secret);
  try {
    await jwtVerify(secret, publicKey, {
      issuer: TEAM_ID,
      subject: idp.clientId,
      audience: 'https://appleid.apple.com',
      algorithms: ['ES256'],
    });
    return decodeProtectedHeader(secret).kid === 'ABC123DEFG';
  } catch {
    return false;
  }
};
afterEach(() => {
  secrets.length = 0;
});

/** The `user` form field Apple posts on a user's first sign-in. */
const userField = (firstName: string, lastName: string, email = 'someone@privaterelay.appleid.com') =>
  JSON.stringify({ name: { firstName, lastName }, email });

const harness: ProviderHarness = {
  ...oidcHarness(idp, 'apple', ENV),
  authorizationEndpoint: 'https://appleid.apple.com/auth/authorize',
  scope: 'openid name email',
  responseMode: 'form_post',
  approve(url, user) {
    const callback = idp.authorize(url, {
      sub: user.subject,
      claims: { email: user.email, email_verified: 'true', is_private_email: 'false' },
    });
    const [first = '', last = ''] = user.name.split(' ');
    callback.set('user', userField(first, last));
    return callback;
  },
  // Apple has no user names.
  profileQuirks: { preferredUsername: undefined },
};
providerContract('apple', harness, msw);

async function signIn(env: Record<string, string>, claims: Record<string, unknown>, user?: string) {
  const deps = flowDepsFor(env);
  const started = await startLogin(deps, 'apple', undefined);
  const callback = idp.authorize(started.authorizationUrl, { sub: '001234.abcdef.0042', claims });
  if (user !== undefined) callback.set('user', user);
  return finishLogin(deps, 'apple', started.flowId, callback);
}

const RELAY = { email: 'x7k2@privaterelay.appleid.com', email_verified: 'true', is_private_email: 'true' };

describe('apple provider', () => {
  it('authenticates with a client secret it makes at each exchange: ES256, the key id, from the team, about the client, for Apple, minutes long', async () => {
    await signIn(ENV, RELAY);
    await signIn(ENV, RELAY);
    expect(secrets).toHaveLength(2);
    expect(secrets[0]).not.toBe(secrets[1]);
    const header = decodeProtectedHeader(secrets[0] ?? '');
    const claims = decodeJwt(secrets[0] ?? '');
    expect(header).toEqual({ alg: 'ES256', kid: 'ABC123DEFG' });
    expect(claims).toMatchObject({ iss: TEAM_ID, sub: idp.clientId, aud: 'https://appleid.apple.com' });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(300);
    expect(idp.tokenRequests.at(-1)?.clientAuth).toBe('client_secret_post');
  });

  it('takes the name from the first sign-in’s user field, and the email from the ID token only', async () => {
    const first = await signIn(ENV, RELAY, userField('Ada', 'Lovelace', 'ada@evil.example'));
    expect(first.profile).toEqual({
      subject: '001234.abcdef.0042',
      email: 'x7k2@privaterelay.appleid.com',
      emailVerified: true,
      name: 'Ada Lovelace',
      preferredUsername: undefined,
      picture: undefined,
    });
    // Later sign-ins carry no user field: no name, and still a sign-in.
    const later = await signIn(ENV, RELAY);
    expect(later.profile.name).toBeUndefined();
    expect(later.profile.subject).toBe('001234.abcdef.0042');
  });

  it.each([
    ['not JSON', '{"name":'],
    ['no name', JSON.stringify({ email: 'a@b.example' })],
    ['a name of other types', JSON.stringify({ name: { firstName: 42, lastName: ['x'] } })],
    ['longer than any real one', userField('A'.repeat(5000), 'B')],
  ])('signs in without a name from a user field with %s', async (_, user) => {
    const finished = await signIn(ENV, RELAY, user);
    expect(finished.profile.name).toBeUndefined();
    expect(finished.profile.email).toBe(RELAY.email);
  });

  it('counts the email verified only when Apple says so, so an email rule refuses an unverified one', async () => {
    const unverified = { ...RELAY, email_verified: 'false' };
    expect((await signIn(ENV, unverified)).profile.emailVerified).toBe(false);
    const error = await rejection(signIn({ ...ENV, PROVIDER_APPLE_ALLOWED_EMAIL_DOMAINS: 'privaterelay.appleid.com' }, unverified));
    expect(error.code).toBe('not_allowed');
    expect((await signIn({ ...ENV, PROVIDER_APPLE_ALLOWED_EMAIL_DOMAINS: 'privaterelay.appleid.com' }, RELAY)).profile.emailVerified).toBe(
      true,
    );
  });

  it('finishes a login Apple posts from its own site, with the flow cookie only a cross-site POST carries', async () => {
    const gateway = await buildTestApp({ store: memoryStore(), env: ENV });
    const browser = new TestBrowser();
    const login = await browser.get(gateway.app, 'https://gateway.test/login/apple?return_to=/home');
    const location = login.headers.get('location') ?? '';
    expect(new URL(location).searchParams.get('response_mode')).toBe('form_post');
    const form = idp.authorize(location, { sub: '001234.abcdef.0042', claims: RELAY });
    form.set('user', userField('Ada', 'Lovelace'));
    const done = await browser.request(gateway.app, 'https://gateway.test/callback/apple', {
      method: 'POST',
      from: 'https://appleid.apple.com',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    expect(done.status, await done.clone().text()).toBe(302);
    expect(done.headers.get('location')).toBe('https://gateway.test/home');
    const token = (await browser.cookie('https://gateway.test', '__Host-auth_token'))?.value ?? '';
    expect(decodeJwt(token)).toMatchObject({
      sub: 'apple:001234.abcdef.0042',
      name: 'Ada Lovelace',
      email: RELAY.email,
      email_verified: true,
    });
  });
});

describe('apple settings at start-up', () => {
  const problems = (env: Record<string, string>) => {
    try {
      parseConfig({ PUBLIC_URL: 'https://gateway.test', ...env });
    } catch (err) {
      return (err as ConfigError).problems;
    }
    return [];
  };
  const rsa = join(dir, 'rsa.pem');
  writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));

  it('needs the team id, the key and its id; takes no client secret, no other key, no other method or response mode', () => {
    expect(problems({ PROVIDER_APPLE_CLIENT_ID: 'com.example.web' })).toEqual([
      "PROVIDER_APPLE_TEAM_ID is required for Apple (your team's id, at the top of developer.apple.com/account)",
      'PROVIDER_APPLE_PRIVATE_KEY_FILE is required for Apple (the .p8 key of Sign in with Apple)',
    ]);
    expect(
      problems({
        ...ENV,
        PROVIDER_APPLE_TEAM_ID: 'team',
        PROVIDER_APPLE_CLIENT_SECRET: 'a-secret',
        PROVIDER_APPLE_TOKEN_AUTH_METHOD: 'client_secret_basic',
        PROVIDER_APPLE_RESPONSE_MODE: 'query',
      }),
    ).toEqual([
      'PROVIDER_APPLE_RESPONSE_MODE: Apple answers by form_post only',
      'PROVIDER_APPLE_TOKEN_AUTH_METHOD is not a setting of Apple: it authenticates its own way',
      'PROVIDER_APPLE_TEAM_ID must be ten upper-case letters and digits, got "team"',
      'PROVIDER_APPLE_CLIENT_SECRET is not a setting of Apple: its client secret is made from PROVIDER_APPLE_PRIVATE_KEY_FILE at each sign-in',
    ]);
    const { PROVIDER_APPLE_KEY_ID: _, ...withoutKeyId } = ENV;
    expect(problems(withoutKeyId)).toEqual(['PROVIDER_APPLE_KEY_ID is required for Apple (the id of the .p8 key)']);
    expect(problems({ ...ENV, PROVIDER_APPLE_PRIVATE_KEY_FILE: rsa })).toEqual([
      "PROVIDER_APPLE_PRIVATE_KEY_FILE must be Apple's .p8 key (EC P-256)",
    ]);
  });

  it('needs https: Apple posts its answer cross-site', () => {
    expect(problems({ ...ENV, PUBLIC_URL: 'http://localhost:3000' })).toEqual([
      'provider apple answers by form_post, which needs an https PUBLIC_URL (its flow cookie must be SameSite=None; Secure)',
    ]);
  });

  it('is a public provider: production refuses it without an access rule, and starts with one or with ALLOW_ALL', () => {
    const refused = problems({ ...PRODUCTION_ENV, ...ENV });
    expect(refused).toHaveLength(1);
    expect(refused[0]).toContain('PROVIDER_APPLE_');
    expect(refused[0]).toContain('PROVIDER_APPLE_ALLOW_ALL=true');
    expect(problems({ ...PRODUCTION_ENV, ...ENV, PROVIDER_APPLE_ALLOWED_EMAILS: 'ada@example.com' })).toEqual([]);
    expect(problems({ ...PRODUCTION_ENV, ...ENV, PROVIDER_APPLE_ALLOW_ALL: 'true' })).toEqual([]);
  });
});
