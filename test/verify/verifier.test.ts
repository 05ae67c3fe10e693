import {
  decodeJwt,
  decodeProtectedHeader,
  errors,
  exportSPKI,
  importJWK,
  SignJWT,
  UnsecuredJWT,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, expressAuth, porteroAuth, tokenFrom, type VerifierOptions } from '../../src/verify/index.js';
import { deadUrl, serveGateway, tamper, type ServedGateway } from '../support/served-gateway.js';
import { foreignToken, later, refusal, verifyFixture } from '../support/verify.js';

// A downstream Node service checks portero's tokens with `portero/verify`: keys fetched over real
// HTTP from a gateway served on 127.0.0.1, tokens from a real sign-in. Only the provider is mocked.
// What a token must be, and the options a verifier is built with. Fetching and caching the keys:
// keys.test.ts; the Hono and Express middlewares: middleware.test.ts.

const { idp, gateway, verifier, token } = await verifyFixture();

describe('createVerifier', () => {
  it('returns the claims of a token from a real sign-in, fetching the keys once and on first use', async () => {
    const fetchesBefore = gateway.jwksFetches;
    const fresh = createVerifier({ issuer: gateway.issuer }); // jwksUrl defaults to <issuer>/.well-known/jwks.json
    expect(gateway.jwksFetches).toBe(fetchesBefore);

    const claims = await fresh.verify(token);
    expect(claims).toEqual(decodeJwt(token));
    expect(claims).toMatchObject({
      iss: gateway.origin,
      sub: 'corp:u-7',
      provider: 'corp',
      email: 'grace@example.com',
      email_verified: true,
      name: 'Grace Hopper',
      preferred_username: 'grace',
      picture: 'https://example.com/grace.png',
    });
    expect(claims).toHaveProperty('sid');
    expect(claims).toHaveProperty('jti');

    await fresh.verify(await gateway.signIn('u-8'));
    expect(gateway.jwksFetches).toBe(fetchesBefore + 1);
  });

  it('works detached: verify(tokenFrom(headers)) with the Bearer header first, then the cookie', async () => {
    const { verify, tokenFrom: from } = verifier;
    await expect(verify(from({ cookie: `theme=dark; __Host-auth_token=${token}; other=1` }))).resolves.toMatchObject({ sub: 'corp:u-7' });
    await expect(verify(from(new Headers({ authorization: `Bearer ${token}`, cookie: '__Host-auth_token=stale' })))).resolves.toMatchObject(
      {
        sub: 'corp:u-7',
      },
    );
    await expect(verify(from({ cookie: `portero_token=${token}` }, 'portero_token'))).resolves.toMatchObject({ sub: 'corp:u-7' });

    expect(tokenFrom({ authorization: 'Basic dXNlcjpwYXNz', cookie: '__Host-auth_token=abc' })).toBe('abc');
    expect(tokenFrom({ authorization: 'bearer abc' })).toBe('abc');
    expect(tokenFrom({ cookie: '__Host-auth_token_old=x; auth_token=y' })).toBeUndefined();
    expect(tokenFrom(new Headers())).toBeUndefined();
  });

  it('refuses no token as missing_token', async () => {
    for (const nothing of [undefined, null, '']) {
      const err = await refusal(verifier.verify(nothing));
      expect(err.code).toBe('missing_token');
    }
  });

  it('refuses a token for another issuer', async () => {
    const other = createVerifier({ issuer: 'https://someone-else.example', jwksUrl: gateway.jwksUrl });
    const err = await refusal(other.verify(token));
    expect(err.code).toBe('invalid_token');
    expect(err.cause).toBeInstanceOf(errors.JWTClaimValidationFailed);
    expect((err.cause as errors.JWTClaimValidationFailed).claim).toBe('iss');
  });

  it('refuses the token once its hour and the clock tolerance (30 s) are over', async () => {
    const own = createVerifier({ issuer: gateway.issuer }); // its key cache stays in the future it sees
    later(3631);
    const err = await refusal(own.verify(token));
    expect(err.code).toBe('invalid_token');
    expect(err.cause).toBeInstanceOf(errors.JWTExpired);
    expect(err.message).toMatch(/"exp" claim timestamp check failed/);
  });

  it('takes a token within clockTolerance of its exp, as the gateway does within CLOCK_SKEW; 0 takes none', async () => {
    const lenient = createVerifier({ issuer: gateway.issuer });
    const strict = createVerifier({ issuer: gateway.issuer, clockTolerance: 0 });
    await lenient.verify(token); // both fetch the keys now, before the clock moves
    await strict.verify(token);
    later(3610);
    await expect(lenient.verify(token)).resolves.toMatchObject({ sub: expect.any(String) });
    expect((await refusal(strict.verify(token))).cause).toBeInstanceOf(errors.JWTExpired);
  });

  it('refuses the token with a claim changed', async () => {
    const err = await refusal(verifier.verify(tamper(token, { sub: 'corp:admin' })));
    expect(err.code).toBe('invalid_token');
    expect(err.cause).toBeInstanceOf(errors.JWSSignatureVerificationFailed);
  });

  it('refuses an unsigned token (alg none)', async () => {
    const unsigned = new UnsecuredJWT({ ...decodeJwt(token), sub: 'corp:admin' }).encode();
    expect(decodeProtectedHeader(unsigned).alg).toBe('none');
    const err = await refusal(verifier.verify(unsigned));
    expect(err.code).toBe('invalid_token');
    expect(err.cause).toBeInstanceOf(errors.JOSEAlgNotAllowed);
  });

  it('refuses HS256 tokens: with a secret, and with the published public key as the HMAC secret', async () => {
    const claims = { ...decodeJwt(token), sub: 'corp:admin' };
    const withSecret = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode('a-guessed-secret-of-32-bytes-----'));

    // The classic confusion: HMAC keyed with the public key's PEM, and the real kid in the header.
    const jwks = (await (await fetch(gateway.jwksUrl)).json()) as JSONWebKeySet;
    const published = jwks.keys[0]!;
    const pem = await exportSPKI((await importJWK(published, published.alg)) as CryptoKey);
    const withPublicKey = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: published.kid!, typ: 'JWT' })
      .sign(new TextEncoder().encode(pem));

    for (const forged of [withSecret, withPublicKey]) {
      const err = await refusal(verifier.verify(forged));
      expect(err.code).toBe('invalid_token');
      expect(err.cause).toBeInstanceOf(errors.JOSEAlgNotAllowed);
    }
  });

  it('refuses a valid token whose algorithm is not in `algorithms`', async () => {
    expect(decodeProtectedHeader(token).alg).toBe('ES256');
    const strict = createVerifier({ issuer: gateway.issuer, algorithms: ['EdDSA'] });
    const err = await refusal(strict.verify(token));
    expect(err.cause).toBeInstanceOf(errors.JOSEAlgNotAllowed);
  });

  it("refuses JWTs signed with portero's own key that are not its session tokens: other typ, no sub, no exp", async () => {
    const { kid, alg, key } = gateway.app.keys.signing;
    const { sub: _sub, exp: _exp, ...rest } = decodeJwt(token);
    const sign = (claims: Record<string, unknown>, typ: string) => new SignJWT(claims).setProtectedHeader({ alg, kid, typ }).sign(key);

    const control = await sign({ ...rest, sub: 'corp:u-7', exp: _exp }, 'JWT');
    await expect(verifier.verify(control)).resolves.toMatchObject({ sub: 'corp:u-7' });
    for (const [other, reason] of [
      [await sign({ ...rest, sub: 'corp:u-7', exp: _exp }, 'logout+jwt'), /unexpected "typ" JWT header value/],
      [await sign({ ...rest, exp: _exp }, 'JWT'), /missing required "sub" claim/],
      [await sign({ ...rest, sub: 'corp:u-7' }, 'JWT'), /missing required "exp" claim/],
    ] as const) {
      const err = await refusal(verifier.verify(other));
      expect(err.code).toBe('invalid_token');
      expect(err.message).toMatch(reason);
    }
  });

  it('refuses a token signed by a key portero does not publish', async () => {
    const err = await refusal(verifier.verify(await foreignToken(decodeJwt(token))));
    expect(err.code).toBe('invalid_token');
    expect(err.cause).toBeInstanceOf(errors.JWKSNoMatchingKey);
  });

  it('tells a gateway it cannot reach (jwks_unavailable) from a bad token', async () => {
    const unreachable = createVerifier({ issuer: gateway.issuer, jwksUrl: await deadUrl() });
    const err = await refusal(unreachable.verify(token));
    expect(err.code).toBe('jwks_unavailable');
    expect(err.message).toMatch(/^cannot fetch portero's keys from http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json$/);
    expect(err.cause).toBeInstanceOf(TypeError); // fetch failed: connection refused
  });

  /** As a JavaScript caller, without TypeScript's help, would pass them. */
  const asJs = (options: unknown) => options as VerifierOptions;
  it.each([
    [{}, /^"issuer" option is required: portero's JWT_ISSUER/],
    [{ issuer: '' }, /^"issuer" option is required/],
    [{ issuer: 'portero' }, /^"jwksUrl" option is required when "issuer" is not a URL/],
    [{ issuer: 'https://auth.example.com', jwksUrl: 'jwks.json' }, /^"jwksUrl" option must be an absolute http\(s\) URL/],
    [{ issuer: 'https://auth.example.com', jwksUrl: 'file:///etc/jwks.json' }, /^"jwksUrl" option must be an http\(s\) URL, got file:/],
    [{ issuer: 'https://auth.example.com', jwksUrl: null }, /^"jwksUrl" option must be an absolute http\(s\) URL, got "null"/],
    [{ issuer: 'https://auth.example.com', algorithms: [] }, /^"algorithms" option must be a non-empty array of ES256, EdDSA, RS256$/],
    [{ issuer: 'https://auth.example.com', algorithms: ['ES256', 'HS256', 'none'] }, /^"algorithms" option: HS256, none not allowed/],
    [{ issuer: 'https://auth.example.com', audience: '' }, /^"audience" option must be a non-empty string/],
    [{ issuer: 'https://auth.example.com', cacheMaxAge: '600000' }, /^"cacheMaxAge" option must be a number of milliseconds, got string$/],
    [{ issuer: 'https://auth.example.com', cacheMaxAge: 0 }, /^"cacheMaxAge" option must be a positive number of milliseconds, got 0$/],
    [{ issuer: 'https://auth.example.com', cacheMaxAge: NaN }, /^"cacheMaxAge" option must be a positive number of milliseconds, got NaN$/],
    [
      { issuer: 'https://auth.example.com', timeoutDuration: 1.5 },
      /^"timeoutDuration" option must be a positive integer of milliseconds, got 1.5$/,
    ],
    [
      { issuer: 'https://auth.example.com', timeoutDuration: Infinity },
      /^"timeoutDuration" option must be a positive integer of milliseconds, got Infinity$/,
    ],
    [
      { issuer: 'https://auth.example.com', cooldownDuration: -1 },
      /^"cooldownDuration" option must be a non-negative number of milliseconds, got -1$/,
    ],
    [{ issuer: 'https://auth.example.com', allowInsecureHttp: 'yes' }, /^"allowInsecureHttp" option must be a boolean$/],
    // Plain http off loopback: anyone on the path could hand the verifier keys of their own.
    [
      { issuer: 'http://auth.example.com' },
      /^"issuer" option \(which gives the JWKS URL\) uses plain http on a non-loopback host \(auth\.example\.com\): .*use https, or pass allowInsecureHttp: true$/,
    ],
    [
      { issuer: 'https://auth.example.com', jwksUrl: 'http://10.0.0.5:3000/.well-known/jwks.json' },
      /^"jwksUrl" option uses plain http on a non-loopback host \(10\.0\.0\.5:3000\)/,
    ],
    [
      { issuer: 'https://auth.example.com', jwksUrl: 'http://localhost.evil.example/jwks.json' },
      /^"jwksUrl" option uses plain http on a non-loopback host/,
    ],
    [
      { issuer: 'https://auth.example.com', jwksUrl: 'http://127.0.0.1.nip.io/jwks.json' },
      /^"jwksUrl" option uses plain http on a non-loopback host/,
    ],
    [{ issuer: 'https://auth.example.com', jwksUrl: 'http://[::2]/jwks.json' }, /^"jwksUrl" option uses plain http on a non-loopback host/],
    [
      { issuer: 'https://auth.example.com', jwksUrl: 'http://auth.example.com/jwks.json', allowInsecureHttp: 'true' },
      /^"allowInsecureHttp" option must be a boolean$/,
    ],
    [
      { issuer: 'https://auth.example.com', clockTolerance: -1 },
      /^"clockTolerance" option must be a non-negative number of seconds, got -1$/,
    ],
    [{ issuer: 'https://auth.example.com', clockTolerance: '30s' }, /^"clockTolerance" option must be a number of seconds$/],
  ])('refuses bad options when built, naming the option: %j', (options, message) => {
    expect(() => createVerifier(asJs(options))).toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(message) }),
    );
    expect(() => porteroAuth(asJs(options))).toThrow(TypeError);
    expect(() => expressAuth(asJs(options))).toThrow(TypeError);
  });
});

describe("verifyRequest: which of a request's tokens counts, by the rule of portero's /auth", () => {
  const cookie = (value: string) => `theme=dark; __Host-auth_token=${value}`;

  it("ignores a bearer token portero did not issue beside portero's cookie", async () => {
    // An app's own token: junk, or a JWT signed by a key portero does not publish (even naming someone else).
    for (const appsOwn of ['the-apps-own-api-token', await foreignToken({ ...decodeJwt(token), sub: 'corp:victim' })]) {
      const claims = await verifier.verifyRequest({ authorization: `Bearer ${appsOwn}`, cookie: cookie(token) });
      expect(claims.sub).toBe('corp:u-7');
    }
    // Alone, such a bearer is checked and refused for what it is.
    expect((await refusal(verifier.verifyRequest({ authorization: 'Bearer the-apps-own-api-token' }))).code).toBe('invalid_token');
  });

  it('refuses two portero tokens that disagree on sub, or on sid (two sessions of one person)', async () => {
    const other = await gateway.signIn('u-other');
    const again = await gateway.signIn('u-7');
    for (const [bearer, cookied] of [
      [other, token],
      [token, other],
      [again, token],
    ]) {
      const err = await refusal(verifier.verifyRequest({ authorization: `Bearer ${bearer}`, cookie: cookie(cookied!) }));
      expect(err.code).toBe('invalid_token');
      expect(err.message).toMatch(/tokens disagree/);
    }
    await expect(verifier.verifyRequest({ authorization: `Bearer ${token}`, cookie: cookie(token) })).resolves.toMatchObject({
      sub: 'corp:u-7',
    });
  });

  it("of portero's own tokens the bearer wins; one that fails refuses the request", async () => {
    const { kid, alg, key } = gateway.app.keys.signing;
    const claims = decodeJwt(token);
    const sameSession = await new SignJWT({ ...claims, jti: 'another' }).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key);
    await expect(verifier.verifyRequest({ authorization: `Bearer ${sameSession}`, cookie: cookie(token) })).resolves.toMatchObject({
      jti: 'another',
    });
    const expired = await new SignJWT({ ...claims, exp: 1 }).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key);
    expect((await refusal(verifier.verifyRequest({ authorization: `Bearer ${expired}`, cookie: cookie(token) }))).code).toBe(
      'invalid_token',
    );
    // A junk cookie beside portero's bearer is ignored likewise.
    await expect(verifier.verifyRequest({ authorization: `Bearer ${token}`, cookie: cookie('junk') })).resolves.toMatchObject({
      sub: 'corp:u-7',
    });
  });

  it('treats more than one token cookie as not signed in, and reads the default __Host-auth_token only', async () => {
    const other = await gateway.signIn('u-other');
    const twice = `__Host-auth_token=${other}; __Host-auth_token=${token}`;
    expect((await refusal(verifier.verifyRequest({ cookie: twice }))).message).toMatch(/several token cookies/);
    expect(verifier.tokenFrom({ cookie: twice })).toBeUndefined();
    expect((await refusal(verifier.verifyRequest({ cookie: `auth_token=${token}` }))).code).toBe('missing_token');
    await expect(verifier.verifyRequest({ cookie: `auth_token=${token}` }, 'auth_token')).resolves.toMatchObject({ sub: 'corp:u-7' });
  });

  it('answers jwks_unavailable when it cannot tell whose a bearer is', async () => {
    const unreachable = createVerifier({ issuer: gateway.issuer, jwksUrl: await deadUrl() });
    const err = await refusal(unreachable.verifyRequest({ authorization: 'Bearer x', cookie: cookie(token) }));
    expect(err.code).toBe('jwks_unavailable');
  });
});

describe("the encoding and claims of portero's tokens", () => {
  it('refuses another spelling of the same bytes: padding, a flipped padding bit, a percent-encoded cookie', async () => {
    const [h, p, sig] = token.split('.') as [string, string, string];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const flipped = sig.slice(0, -1) + alphabet[alphabet.indexOf(sig.at(-1)!) ^ 1];
    for (const variant of [`${h}.${p}.${sig}==`, `${h}.${p}.${flipped}`]) {
      const err = await refusal(verifier.verify(variant));
      expect(err.code).toBe('invalid_token');
      expect(err.message).toMatch(/canonical/);
    }
    const encoded = token.replace('.', '%2E');
    expect((await refusal(verifier.verifyRequest({ cookie: `__Host-auth_token=${encoded}` }))).code).toBe('invalid_token');
  });

  it("refuses malformed claims in a token signed with portero's key, naming the claim", async () => {
    const { kid, alg, key } = gateway.app.keys.signing;
    for (const [change, claim] of [
      [{ sub: { id: 1 } }, 'sub'],
      [{ sid: ['a', 'b'] }, 'sid'],
      [{ exp: 1e308 }, 'exp'],
      [{ email_verified: 'yes' }, 'email_verified'],
    ] as const) {
      const malformed = await new SignJWT({ ...decodeJwt(token), ...change } as JWTPayload)
        .setProtectedHeader({ alg, kid, typ: 'JWT' })
        .sign(key);
      const err = await refusal(verifier.verify(malformed));
      expect(err.code).toBe('invalid_token');
      expect(err.message).toBe(
        `the token's claims are malformed: ${claim} must be ${claim === 'exp' ? 'a whole number of seconds' : claim === 'email_verified' ? 'a boolean' : 'a non-empty string'}`,
      );
    }
  });
});

describe('createVerifier with JWT_AUDIENCE=downstream-app', () => {
  let withAudience: ServedGateway;
  let audienceToken: string;
  beforeAll(async () => {
    withAudience = await serveGateway(idp, { env: { JWT_AUDIENCE: 'downstream-app' } });
    audienceToken = await withAudience.signIn('u-1');
  });
  afterAll(() => withAudience.close());

  it('accepts the token for that audience', async () => {
    const claims = await createVerifier({ issuer: withAudience.issuer, audience: 'downstream-app' }).verify(audienceToken);
    expect(claims).toMatchObject({ aud: 'downstream-app', sub: 'corp:u-1' });
  });

  it('refuses it for another audience', async () => {
    const err = await refusal(createVerifier({ issuer: withAudience.issuer, audience: 'another-app' }).verify(audienceToken));
    expect(err.code).toBe('invalid_token');
    expect((err.cause as errors.JWTClaimValidationFailed).claim).toBe('aud');
  });
});
