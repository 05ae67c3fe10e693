import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { PORTERO_ALGORITHMS } from '../../src/shared/algorithms.js';
import { parseConfig } from '../../src/config/parse.js';
import type { AppClientConfig } from '../../src/config/types.js';
import { buildKeySet, configuredKeySet, generateKeyJwk, loadKeyFile, type KeySet } from '../../src/tokens/keys.js';
import { TEST_COOKIE_SECRET } from '../support/app.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The problems listed in buildKeySet's error, one per line. */
async function problemsOf(build: Promise<unknown>): Promise<string[]> {
  const error = await build.then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  expect(error?.message).toMatch(/^invalid signing keys:\n/);
  return error!.message.split('\n  - ').slice(1);
}

async function sign(keys: Pick<KeySet, 'signing'>, subject = 'corp:u-1'): Promise<string> {
  return new SignJWT({ sub: subject })
    .setProtectedHeader({ alg: keys.signing.alg, kid: keys.signing.kid, typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(keys.signing.key);
}

describe('generateKeyJwk', () => {
  it.each(PORTERO_ALGORITHMS)('makes a private %s JWK with kid, alg and use', async (alg) => {
    const jwk = await generateKeyJwk(alg);
    expect(jwk).toMatchObject({ alg, use: 'sig', kty: { ES256: 'EC', EdDSA: 'OKP', RS256: 'RSA' }[alg] });
    expect(typeof jwk.d).toBe('string');
    expect(jwk.kid).toMatch(/^[\w-]{43}$/);
    // A fresh key each time.
    expect((await generateKeyJwk(alg)).kid).not.toBe(jwk.kid);
  });
});

describe('buildKeySet', () => {
  it.each(PORTERO_ALGORITHMS)('publishes only the public part of %s keys, and signs with the first', async (alg) => {
    const jwk = await generateKeyJwk(alg);
    const keys = await buildKeySet([jwk], alg);
    expect(keys.signing).toMatchObject({ kid: jwk.kid, alg });
    expect(keys.algorithms).toEqual([alg]);
    const [published, ...others] = keys.publicJwks.keys;
    expect(others).toEqual([]);
    expect(published).toMatchObject({ kid: jwk.kid, alg, use: 'sig', kty: jwk.kty });
    for (const member of PRIVATE_MEMBERS) expect(published, member).not.toHaveProperty(member);
    const { payload } = await jwtVerify(await sign(keys), keys.verifier, { algorithms: [alg] });
    expect(payload.sub).toBe('corp:u-1');
  });

  it('gives a key without kid its thumbprint and a key without alg JWT_ALG', async () => {
    const { kid, alg, ...bare } = await generateKeyJwk('ES256');
    const keys = await buildKeySet([bare], 'ES256');
    expect(keys.signing).toMatchObject({ kid, alg: 'ES256' });
  });

  it('refuses a public key, an alg/kty mismatch, a first key off JWT_ALG and a duplicate kid, all at once', async () => {
    const signing = await generateKeyJwk('EdDSA');
    const rsa = await generateKeyJwk('RS256');
    const { d: _, ...publicOnly } = await generateKeyJwk('ES256');
    const ecAsRsa = { ...(await generateKeyJwk('ES256')), alg: 'RS256' };
    const problems = await problemsOf(buildKeySet([signing, publicOnly, ecAsRsa, rsa, { ...rsa }], 'ES256', 'keys.json'));
    expect(problems).toEqual([
      `keys.json key 1 (kid ${signing.kid}): the signing key (first) is EdDSA, but JWT_ALG is ES256`,
      `keys.json key 2 (kid ${publicOnly.kid}): is a public key; keys.json must hold private keys`,
      `keys.json key 3 (kid ${ecAsRsa.kid}): a RS256 key must be kty RSA`,
      `keys.json key 5 (kid ${rsa.kid}): kid ${rsa.kid} appears twice`,
    ]);
  });

  it('refuses an algorithm outside the allow-list, and an empty file', async () => {
    const hmac = { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA', alg: 'HS256', kid: 'h' };
    expect(await problemsOf(buildKeySet([await generateKeyJwk('ES256'), hmac], 'ES256'))).toEqual([
      'JWT_KEYS key 2 (kid h): alg HS256 is not one of ES256, EdDSA, RS256',
    ]);
    expect(await problemsOf(buildKeySet([], 'ES256'))).toEqual(['JWT_KEYS holds no keys']);
  });

  it('refuses an RSA key shorter than 2048 bits at load time, not at the first sign-in', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const short: JWK = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', kid: 'short' };
    expect(await problemsOf(buildKeySet([short], 'RS256'))).toEqual([
      'JWT_KEYS key 1 (kid short): an RSA key must be at least 2048 bits, this one has 1024',
    ]);
  });

  it('refuses an EC key on another curve', async () => {
    const { privateKey } = await generateKeyPair('ES384', { extractable: true });
    const p384: JWK = { ...(await exportJWK(privateKey)), alg: 'ES256', kid: 'p384' };
    expect(await problemsOf(buildKeySet([p384], 'ES256'))).toEqual(['JWT_KEYS key 1 (kid p384): a ES256 key must be kty EC crv P-256']);
  });
});

describe('key rotation', () => {
  it('keeps verifying tokens of the old key after a new one is put first, and signs with the new one', async () => {
    const a = await generateKeyJwk('ES256');
    const b = await generateKeyJwk('ES256');
    const before = await buildKeySet([a], 'ES256');
    const oldToken = await sign(before, 'corp:before-rotation');

    const after = await buildKeySet([b, a], 'ES256');
    expect(after.signing.kid).toBe(b.kid);
    expect(after.publicJwks.keys.map((key) => key.kid)).toEqual([b.kid, a.kid]);
    const { payload } = await jwtVerify(oldToken, after.verifier, { algorithms: [...after.algorithms] });
    expect(payload.sub).toBe('corp:before-rotation');

    const newToken = await sign(after);
    expect(decodeProtectedHeader(newToken)).toEqual({ alg: 'ES256', kid: b.kid, typ: 'JWT' });
    // Once A is retired, its tokens stop verifying.
    const retired = await buildKeySet([b], 'ES256');
    await expect(jwtVerify(oldToken, retired.verifier)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  it('publishes keys of several algorithms, the signing one first', async () => {
    const keys = await buildKeySet([await generateKeyJwk('EdDSA'), await generateKeyJwk('RS256')], 'EdDSA');
    expect(keys.algorithms).toEqual(['EdDSA', 'RS256']);
    const rsaSigned = await buildKeySet([await generateKeyJwk('RS256')], 'RS256');
    // A token of a key that is not in the set does not verify, whatever its algorithm.
    await expect(jwtVerify(await sign(rsaSigned), keys.verifier)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });
});

describe('loadKeyFile', () => {
  // Private keys are written here: removed after the last test.
  const dir = mkdtempSync(join(tmpdir(), 'portero-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('loads a JWKS of private keys', async () => {
    const a = await generateKeyJwk('RS256');
    const keys = await loadKeyFile(file('keys.json', JSON.stringify({ keys: [a] })), 'RS256');
    expect(keys.signing).toMatchObject({ kid: a.kid, alg: 'RS256' });
  });

  it('names the file in every problem', async () => {
    const path = file('public.json', JSON.stringify({ keys: [{ ...(await generateKeyJwk('ES256')), d: undefined }] }));
    const problems = await problemsOf(loadKeyFile(path, 'ES256'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`JWT_KEYS (${path}) key 1`);
    expect(problems[0]).toContain('is a public key');
  });

  it('refuses a file that is not JSON, is not a JWKS, or does not exist', async () => {
    await expect(loadKeyFile(file('broken.json', '{"keys": ['), 'ES256')).rejects.toThrow(/^JWT_KEYS: cannot read .*broken\.json as JSON/);
    await expect(loadKeyFile(file('array.json', '[]'), 'ES256')).rejects.toThrow(/array\.json is not a JWKS/);
    await expect(loadKeyFile(join(dir, 'missing.json'), 'ES256')).rejects.toThrow(/^JWT_KEYS: cannot read .*missing\.json/);
  });

  it('never quotes a broken file: the text around the fault is a piece of a private key', async () => {
    // A key file cut by an editor mid-write, or a stray character: JSON.parse's message would quote what surrounds it.
    const key = await generateKeyJwk('ES256');
    const text = JSON.stringify({ keys: [key] }, null, 2).replace(`"d": "${key.d}"`, `"d": x"${key.d}"`);
    const err = await loadKeyFile(file('typo.json', text), 'ES256').then(
      () => expect.fail('accepted'),
      (err: unknown) => err as Error,
    );
    expect(err.message).toMatch(/^JWT_KEYS: cannot read .*typo\.json as JSON: it is not valid JSON$/);
    for (let at = 0; at + 6 <= key.d!.length; at++) expect(err.message).not.toContain(key.d!.slice(at, at + 6));
  });
});

// portero's OpenID Provider (issue 11) signs its apps' ID tokens with RS256, from the same key file.
describe("the keys of portero's OpenID Provider", () => {
  /** An ID token for app `some-app` as oidc-provider signs it with `keys.providerJwks`, and a check of one as an id_token_hint. */
  async function provider(keys: KeySet) {
    const { default: Provider } = await import('oidc-provider');
    const op = new Provider('https://gateway.test', {
      // Copies: oidc-provider writes into the keys it registers.
      jwks: { keys: keys.providerJwks.map((jwk) => ({ ...jwk })) as never },
      clients: [
        { client_id: 'some-app', client_secret: 'the-secret-of-some-app-0123456789abcdef', redirect_uris: ['https://app.test/cb'] },
      ],
      cookies: { keys: ['cookie-key-0123456789-0123456789-abc'] },
      features: { devInteractions: { enabled: false } },
      ttl: { IdToken: 3600 },
    });
    const client = await op.Client.find('some-app');
    return {
      idToken: () => {
        const token = Object.assign(new op.IdToken({ sub: 'corp:u-1' }, { client } as never), { scope: 'openid' });
        return token.issue({ use: 'idtoken' });
      },
      acceptsHint: (token: string) =>
        op.IdToken.validate(token, client as never).then(
          () => true,
          () => false,
        ),
    };
  }

  it('hands over every RS256 key, private, in file order, and never portero’s own signing key; the first RS256 key signs the apps', async () => {
    const [es, rsa, staged, ed] = [
      await generateKeyJwk('ES256'),
      await generateKeyJwk('RS256'),
      await generateKeyJwk('RS256'),
      await generateKeyJwk('EdDSA'),
    ];
    const keys = await buildKeySet([es, ed, rsa, staged], 'ES256');
    expect(keys.providerJwks.map((jwk) => jwk.kid)).toEqual([rsa.kid, staged.kid]);
    for (const jwk of keys.providerJwks) expect(typeof jwk.d).toBe('string');
    expect(keys.rsaKid).toBe(rsa.kid);
    // With JWT_ALG=RS256 the signing key signs the apps' tokens too; no RS256 key, no RS256 for the apps.
    const rsaSigned = await buildKeySet([staged, rsa], 'RS256');
    expect(rsaSigned.rsaKid).toBe(staged.kid);
    expect(rsaSigned.providerJwks.map((jwk) => jwk.kid)).toEqual([staged.kid, rsa.kid]);
    expect((await buildKeySet([es, ed], 'ES256')).rsaKid).toBeUndefined();
  });

  it("signs the apps' ID tokens with the first RS256 key, never one staged after it, and takes a hint of the old key until it is retired", async () => {
    const [es, old, fresh] = [await generateKeyJwk('ES256'), await generateKeyJwk('RS256'), await generateKeyJwk('RS256')];
    const before = await provider(await buildKeySet([es, old], 'ES256'));
    const oldToken = await before.idToken();
    expect(decodeProtectedHeader(oldToken)).toMatchObject({ alg: 'RS256', kid: old.kid });

    // `npm run keys -- --add-rsa`: the new key right after the one signing; published, not signing.
    const staged = await provider(await buildKeySet([es, old, fresh], 'ES256'));
    expect(decodeProtectedHeader(await staged.idToken()).kid).toBe(old.kid);
    // `--promote-rsa`: the new key signs, the old one still verifies an app's id_token_hint.
    const promoted = await provider(await buildKeySet([es, fresh, old], 'ES256'));
    expect(decodeProtectedHeader(await promoted.idToken()).kid).toBe(fresh.kid);
    expect(await promoted.acceptsHint(oldToken)).toBe(true);
    // `--retire-rsa`: gone.
    expect(await (await provider(await buildKeySet([es, fresh], 'ES256'))).acceptsHint(oldToken)).toBe(false);
  });

  it('refuses keys without an RS256 key when apps are configured, naming the command that adds one', async () => {
    const es = await generateKeyJwk('ES256');
    expect(await problemsOf(buildKeySet([es], 'ES256', 'keys.json', { forApps: true }))).toEqual([
      "keys.json holds no RS256 key, which portero's OpenID Provider signs the apps' tokens with (APP_* is set): " +
        'add one beside the signing key with `npm run keys -- --out <file> --add-rsa` (README "Signing keys")',
    ]);
    await expect(buildKeySet([es, await generateKeyJwk('RS256')], 'ES256', 'keys.json', { forApps: true })).resolves.toBeDefined();
    await expect(buildKeySet([await generateKeyJwk('RS256')], 'RS256', 'keys.json', { forApps: true })).resolves.toBeDefined();
  });
});

describe('the keys start-up reads (configuredKeySet)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portero-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const app: AppClientConfig = {
    clientId: 'some-app',
    redirectUris: ['https://app.test/cb'],
    postLogoutRedirectUris: [],
    name: 'Some app',
    offlineAccess: false,
    resources: [],
  };
  const configWith = (env: Record<string, string>, apps: AppClientConfig[]) => ({
    ...parseConfig({ COOKIE_SECRET: TEST_COOKIE_SECRET, ...env }),
    apps,
  });

  it('refuses a JWT_KEYS file without an RS256 key once apps are configured, and takes it without apps', async () => {
    const path = join(dir, 'es-only.json');
    writeFileSync(path, JSON.stringify({ keys: [await generateKeyJwk('ES256')] }));
    await expect(configuredKeySet(configWith({ JWT_KEYS: path }, [app]))).rejects.toThrow(
      `JWT_KEYS (${path}) holds no RS256 key, which portero's OpenID Provider signs the apps' tokens with (APP_* is set): add one beside the signing key with \`npm run keys -- --out <file> --add-rsa\``,
    );
    expect((await configuredKeySet(configWith({ JWT_KEYS: path }, []))).rsaKid).toBeUndefined();
  });

  it('makes an ephemeral RS256 key beside the ES256 one in development when apps are configured, so npm start just works', async () => {
    const withApps = await configuredKeySet(configWith({}, [app]));
    expect(withApps.signing.alg).toBe('ES256');
    expect(withApps.publicJwks.keys.map((key) => key.alg)).toEqual(['ES256', 'RS256']);
    expect(withApps.rsaKid).toBe(withApps.publicJwks.keys[1]?.kid);
    expect((await configuredKeySet(configWith({}, []))).publicJwks.keys.map((key) => key.alg)).toEqual(['ES256']);
    // An RS256 signing key serves the apps itself.
    const rsa = await configuredKeySet(configWith({ JWT_ALG: 'RS256' }, [app]));
    expect(rsa.publicJwks.keys.map((key) => key.kid)).toEqual([rsa.signing.kid]);
    expect(rsa.rsaKid).toBe(rsa.signing.kid);
  });
});
