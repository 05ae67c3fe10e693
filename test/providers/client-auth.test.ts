import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ConfigError, parseConfig } from '../../src/config/parse.js';
import { finishLogin, startLogin } from '../../src/flow/login.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { MockOidcProvider } from '../support/mock-oidc.js';

// How portero proves itself at a provider's token endpoint: a secret (HTTP Basic or the form
// body) or a signed assertion (private_key_jwt, RFC 7523), each as the provider receives it.

const idp = await new MockOidcProvider('https://sso.keys.test').init();
const msw = setupServer(...idp.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
afterEach(() => {
  idp.tokenEndpointAuthMethods = ['client_secret_basic', 'client_secret_post'];
  idp.tokenEndpointAuthSigningAlgs = undefined;
  idp.responseModes = undefined;
  idp.clientKey = undefined;
  idp.tokenRequests.length = 0;
});

const dir = mkdtempSync(join(tmpdir(), 'portero-client-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A private key in a PEM file, as an operator keeps it; its public half is what the provider has registered. */
function keyFile(name: string, pair: { privateKey: KeyObject; publicKey: KeyObject }): { file: string; publicKey: KeyObject } {
  const file = join(dir, name);
  writeFileSync(file, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return { file, publicKey: pair.publicKey };
}

const ec = keyFile('ec.pem', generateKeyPairSync('ec', { namedCurve: 'P-256' }));
const rsa = keyFile('rsa.pem', generateKeyPairSync('rsa', { modulusLength: 2048 }));

const ENV = { PROVIDER_CORP_TYPE: 'oidc', PROVIDER_CORP_CLIENT_ID: idp.clientId, PROVIDER_CORP_ISSUER: idp.issuer };
const WITH_SECRET = { ...ENV, PROVIDER_CORP_CLIENT_SECRET: idp.clientSecret };

async function signIn(env: Record<string, string>) {
  const deps = flowDepsFor(env);
  const started = await startLogin(deps, 'corp', '/home');
  return finishLogin(deps, 'corp', started.flowId, idp.authorize(started.authorizationUrl, { sub: 'ada' }));
}

function startupProblems(env: Record<string, string>): readonly string[] {
  try {
    parseConfig({ PUBLIC_URL: 'https://gateway.test', ...env });
  } catch (err) {
    return (err as ConfigError).problems;
  }
  return [];
}

describe('private_key_jwt (PROVIDER_<ID>_PRIVATE_KEY_FILE)', () => {
  beforeEach(() => {
    idp.tokenEndpointAuthMethods = ['client_secret_basic', 'private_key_jwt'];
  });

  it('signs a fresh assertion with the EC key (ES256, its KEY_ID as kid) and sends no secret', async () => {
    idp.clientKey = ec.publicKey;
    const finished = await signIn({ ...ENV, PROVIDER_CORP_PRIVATE_KEY_FILE: ec.file, PROVIDER_CORP_KEY_ID: 'portero-2026' });
    expect(finished.profile.subject).toBe('ada');
    const [request] = idp.tokenRequests;
    expect(request?.clientAuth).toBe('private_key_jwt');
    expect(request?.assertion?.header).toMatchObject({ alg: 'ES256', kid: 'portero-2026' });
    const claims = request?.assertion?.claims;
    expect(claims).toMatchObject({ iss: idp.clientId, sub: idp.clientId });
    // Short-lived: the assertion is good for the one request it is made for.
    expect((claims?.exp ?? 0) - (claims?.iat ?? 0)).toBeLessThanOrEqual(120);
  });

  it('signs with an RSA key as RS256, and each exchange with a new assertion (jti)', async () => {
    idp.clientKey = rsa.publicKey;
    const env = { ...ENV, PROVIDER_CORP_PRIVATE_KEY_FILE: rsa.file };
    await signIn(env);
    await signIn(env);
    const [first, second] = idp.tokenRequests.map((request) => request.assertion);
    expect(first?.header.alg).toBe('RS256');
    expect(first?.header.kid).toBeUndefined();
    expect(first?.claims.jti).not.toBe(second?.claims.jti);
  });

  it('is refused by the provider when the key is not the registered one: a clean token_exchange_failed', async () => {
    idp.clientKey = rsa.publicKey;
    const error = await rejection(signIn({ ...ENV, PROVIDER_CORP_PRIVATE_KEY_FILE: ec.file }));
    expect(error.code).toBe('token_exchange_failed');
  });

  it('is not used when discovery says the token endpoint does not take it, nor signed with an algorithm it does not list', async () => {
    idp.clientKey = ec.publicKey;
    idp.tokenEndpointAuthMethods = ['client_secret_basic'];
    const deps = flowDepsFor({ ...ENV, PROVIDER_CORP_PRIVATE_KEY_FILE: ec.file });
    const unlisted = await rejection(startLogin(deps, 'corp', undefined));
    expect(unlisted.code).toBe('provider_unavailable');
    expect(String((unlisted.cause as Error).message)).toBe(
      "the provider's token endpoint accepts client_secret_basic, not private_key_jwt (PROVIDER_CORP_TOKEN_AUTH_METHOD)",
    );

    idp.tokenEndpointAuthMethods = ['private_key_jwt'];
    idp.tokenEndpointAuthSigningAlgs = ['RS256', 'PS256'];
    const wrongAlg = await rejection(startLogin(flowDepsFor({ ...ENV, PROVIDER_CORP_PRIVATE_KEY_FILE: ec.file }), 'corp', undefined));
    expect(String((wrongAlg.cause as Error).message)).toBe(
      'the provider accepts client assertions signed with RS256, PS256, not ES256 (PROVIDER_CORP_PRIVATE_KEY_FILE)',
    );
    expect(idp.tokenRequests).toEqual([]);
  });
});

describe('PROVIDER_<ID>_TOKEN_AUTH_METHOD', () => {
  it('sends the secret as HTTP Basic by default, where discovery lists it', async () => {
    await signIn(WITH_SECRET);
    expect(idp.tokenRequests.map((request) => request.clientAuth)).toEqual(['client_secret_basic']);
  });

  it('client_secret_post puts it in the form body although Basic is listed; client_secret_basic keeps the header although the body is', async () => {
    await signIn({ ...WITH_SECRET, PROVIDER_CORP_TOKEN_AUTH_METHOD: 'client_secret_post' });
    idp.tokenEndpointAuthMethods = ['client_secret_post', 'client_secret_basic'];
    await signIn({ ...WITH_SECRET, PROVIDER_CORP_TOKEN_AUTH_METHOD: 'client_secret_basic' });
    expect(idp.tokenRequests.map((request) => request.clientAuth)).toEqual(['client_secret_post', 'client_secret_basic']);
  });
});

describe('client credentials at start-up', () => {
  const publicPem = join(dir, 'public.pem');
  const garbage = join(dir, 'garbage.pem');
  const small = join(dir, 'rsa-1024.pem');
  writeFileSync(publicPem, ec.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(garbage, 'not a key\n');
  writeFileSync(small, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));

  it.each([
    [
      'a secret and a key file both',
      { ...WITH_SECRET, PROVIDER_CORP_PRIVATE_KEY_FILE: ec.file },
      'PROVIDER_CORP_CLIENT_SECRET and PROVIDER_CORP_PRIVATE_KEY_FILE are both set: set one (a secret, or a key for private_key_jwt)',
    ],
    [
      'a key file that is not there',
      { ...ENV, PROVIDER_CORP_PRIVATE_KEY_FILE: join(dir, 'missing.pem') },
      `PROVIDER_CORP_PRIVATE_KEY_FILE=${join(dir, 'missing.pem')} cannot be read (ENOENT)`,
    ],
    [
      'a public key',
      { ...ENV, PROVIDER_CORP_PRIVATE_KEY_FILE: publicPem },
      `PROVIDER_CORP_PRIVATE_KEY_FILE=${publicPem} is not a PEM private key`,
    ],
    [
      'no key at all',
      { ...ENV, PROVIDER_CORP_PRIVATE_KEY_FILE: garbage },
      `PROVIDER_CORP_PRIVATE_KEY_FILE=${garbage} is not a PEM private key`,
    ],
    [
      'a weak RSA key',
      { ...ENV, PROVIDER_CORP_PRIVATE_KEY_FILE: small },
      `PROVIDER_CORP_PRIVATE_KEY_FILE=${small} is an RSA key of 1024 bits (at least 2048)`,
    ],
    [
      'an unknown method',
      { ...WITH_SECRET, PROVIDER_CORP_TOKEN_AUTH_METHOD: 'client_secret_jwt' },
      'PROVIDER_CORP_TOKEN_AUTH_METHOD must be one of client_secret_basic, client_secret_post, private_key_jwt, got "client_secret_jwt"',
    ],
    [
      'private_key_jwt without a key',
      { ...WITH_SECRET, PROVIDER_CORP_TOKEN_AUTH_METHOD: 'private_key_jwt' },
      'PROVIDER_CORP_TOKEN_AUTH_METHOD=private_key_jwt needs PROVIDER_CORP_PRIVATE_KEY_FILE',
    ],
    [
      'a secret method without a secret',
      { ...ENV, PROVIDER_CORP_PRIVATE_KEY_FILE: ec.file, PROVIDER_CORP_TOKEN_AUTH_METHOD: 'client_secret_post' },
      'PROVIDER_CORP_TOKEN_AUTH_METHOD=client_secret_post needs PROVIDER_CORP_CLIENT_SECRET',
    ],
    [
      'a key id without a key',
      { ...WITH_SECRET, PROVIDER_CORP_KEY_ID: 'k1' },
      'PROVIDER_CORP_KEY_ID names the key of PROVIDER_CORP_PRIVATE_KEY_FILE, which is not set',
    ],
    [
      'an unknown response mode',
      { ...WITH_SECRET, PROVIDER_CORP_RESPONSE_MODE: 'fragment' },
      'PROVIDER_CORP_RESPONSE_MODE must be one of query, form_post, got "fragment"',
    ],
  ])('refuses %s, saying what to change', (_, env, problem) => {
    expect(startupProblems(env)).toEqual([problem]);
  });

  it('a confidential preset is satisfied by a key instead of a secret', () => {
    const env = { PROVIDER_OKTA_TYPE: 'microsoft', PROVIDER_OKTA_CLIENT_ID: 'c', PROVIDER_OKTA_ISSUER: idp.issuer };
    expect(startupProblems(env)).toEqual(['PROVIDER_OKTA_CLIENT_SECRET is required for Microsoft']);
    expect(startupProblems({ ...env, PROVIDER_OKTA_PRIVATE_KEY_FILE: rsa.file })).toEqual([]);
  });

  it('never quotes the key file in a message', () => {
    writeFileSync(garbage, '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LW1hdGVyaWFs\n-----END PRIVATE KEY-----\n');
    expect(startupProblems({ ...ENV, PROVIDER_CORP_PRIVATE_KEY_FILE: garbage }).join('\n')).not.toContain('c2VjcmV0');
  });
});

describe('PROVIDER_<ID>_RESPONSE_MODE=form_post, for any OpenID provider', () => {
  it('asks the provider to post its answer, and says the callback will come cross-site', async () => {
    const started = await startLogin(flowDepsFor({ ...WITH_SECRET, PROVIDER_CORP_RESPONSE_MODE: 'form_post' }), 'corp', undefined);
    expect(started.authorizationUrl.searchParams.get('response_mode')).toBe('form_post');
    expect(started.crossSiteCallback).toBe(true);
    const plain = await startLogin(flowDepsFor(WITH_SECRET), 'corp', undefined);
    expect(plain.authorizationUrl.searchParams.has('response_mode')).toBe(false);
    expect(plain.crossSiteCallback).toBe(false);
  });

  it('needs https, and a provider whose discovery lists form_post when it lists any', async () => {
    expect(startupProblems({ ...WITH_SECRET, PROVIDER_CORP_RESPONSE_MODE: 'form_post', PUBLIC_URL: 'http://localhost:3000' })).toEqual([
      'provider corp answers by form_post, which needs an https PUBLIC_URL (its flow cookie must be SameSite=None; Secure)',
    ]);
    idp.responseModes = ['query', 'fragment'];
    const error = await rejection(startLogin(flowDepsFor({ ...WITH_SECRET, PROVIDER_CORP_RESPONSE_MODE: 'form_post' }), 'corp', undefined));
    expect(String((error.cause as Error).message)).toBe(
      'the provider answers by query, fragment, not form_post (PROVIDER_CORP_RESPONSE_MODE)',
    );
  });
});
