import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import {
  decodeJwt,
  decodeProtectedHeader,
  errors,
  exportSPKI,
  generateKeyPair,
  importJWK,
  SignJWT,
  UnsecuredJWT,
  type JSONWebKeySet,
} from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildKeySet, generateKeyJwk } from '../../src/tokens/keys.js';
import {
  createVerifier,
  expressAuth,
  porteroAuth,
  PorteroTokenError,
  tokenFrom,
  type PorteroClaims,
  type PorteroRequest,
  type PorteroVariables,
  type Verifier,
  type VerifierOptions,
} from '../../src/verify/index.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { deadUrl, loopbackIsReal, serveGateway, tamper, type ServedGateway } from '../support/served-gateway.js';

// A downstream Node service checks portero's tokens with `portero/verify`: keys fetched over real
// HTTP from a gateway served on 127.0.0.1, tokens from a real sign-in. Only the provider is mocked.

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers(), loopbackIsReal);

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
afterEach(() => {
  vi.useRealTimers();
});

/** The PorteroTokenError a refused verification threw. */
async function refusal(promise: Promise<unknown>): Promise<PorteroTokenError> {
  const err = await promise.then(
    (claims) => expect.fail(`accepted: ${JSON.stringify(claims)}`),
    (err: unknown) => err,
  );
  expect(err).toBeInstanceOf(PorteroTokenError);
  return err as PorteroTokenError;
}

/** Moves the clock of this process (jose's `exp` check and its JWKS cache) forward. */
function later(seconds: number) {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + seconds * 1000);
}

/** A token signed by a key portero does not publish, with a kid of its own. */
async function foreignToken(claims: Record<string, unknown>): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: `foreign-${Math.random()}`, typ: 'JWT' }).sign(privateKey);
}

let gateway: ServedGateway;
let verifier: Verifier;
let token: string;

beforeAll(async () => {
  gateway = await serveGateway(idp);
  verifier = createVerifier({ issuer: gateway.issuer, jwksUrl: gateway.jwksUrl });
  token = await gateway.signIn('u-7', {
    email: 'grace@example.com',
    email_verified: true,
    name: 'Grace Hopper',
    preferred_username: 'grace',
    picture: 'https://example.com/grace.png',
  });
});
afterAll(() => gateway.close());

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
    await expect(verify(from({ cookie: `theme=dark; auth_token=${token}; other=1` }))).resolves.toMatchObject({ sub: 'corp:u-7' });
    await expect(verify(from(new Headers({ authorization: `Bearer ${token}`, cookie: 'auth_token=stale' })))).resolves.toMatchObject({ sub: 'corp:u-7' });
    await expect(verify(from({ cookie: `portero_token=${token}` }, 'portero_token'))).resolves.toMatchObject({ sub: 'corp:u-7' });

    expect(tokenFrom({ authorization: 'Basic dXNlcjpwYXNz', cookie: 'auth_token=abc' })).toBe('abc');
    expect(tokenFrom({ authorization: 'bearer abc' })).toBe('abc');
    expect(tokenFrom({ cookie: 'auth_token_old=x; xauth_token=y' })).toBeUndefined();
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

  it('refuses the token once its hour is over', async () => {
    const own = createVerifier({ issuer: gateway.issuer }); // its key cache stays in the future it sees
    later(3601);
    const err = await refusal(own.verify(token));
    expect(err.code).toBe('invalid_token');
    expect(err.cause).toBeInstanceOf(errors.JWTExpired);
    expect(err.message).toMatch(/"exp" claim timestamp check failed/);
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
    const withSecret = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode('a-guessed-secret-of-32-bytes-----'));

    // The classic confusion: HMAC keyed with the public key's PEM, and the real kid in the header.
    const jwks = (await (await fetch(gateway.jwksUrl)).json()) as JSONWebKeySet;
    const published = jwks.keys[0]!;
    const pem = await exportSPKI((await importJWK(published, published.alg)) as CryptoKey);
    const withPublicKey = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: published.kid!, typ: 'JWT' }).sign(new TextEncoder().encode(pem));

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

  it('refuses JWTs signed with portero\'s own key that are not its session tokens: other typ, no sub, no exp', async () => {
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
    [{ issuer: 'https://auth.example.com', algorithms: [] }, /^"algorithms" option must be a non-empty array of ES256, EdDSA, RS256$/],
    [{ issuer: 'https://auth.example.com', algorithms: ['ES256', 'HS256', 'none'] }, /^"algorithms" option: HS256, none not allowed/],
    [{ issuer: 'https://auth.example.com', audience: '' }, /^"audience" option must be a non-empty string/],
  ])('refuses bad options when built, naming the option: %j', (options, message) => {
    expect(() => createVerifier(asJs(options))).toThrow(expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(message) }));
    expect(() => porteroAuth(asJs(options))).toThrow(TypeError);
    expect(() => expressAuth(asJs(options))).toThrow(TypeError);
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

describe('key rotation', () => {
  it('the same verifier accepts tokens of the new key (fetching the keys again) and still the old ones', async () => {
    const keyA = await generateKeyJwk('ES256');
    const keyB = await generateKeyJwk('ES256');
    const rotating = await serveGateway(idp, { keys: await buildKeySet([keyA], 'ES256') });
    try {
      const shared = createVerifier({ issuer: rotating.issuer });
      const t1 = await rotating.signIn('u-1');
      expect(decodeProtectedHeader(t1).kid).toBe(keyA.kid);
      await expect(shared.verify(t1)).resolves.toMatchObject({ sub: 'corp:u-1' });
      expect(rotating.jwksFetches).toBe(1);

      // `npm run keys -- --rotate` and a restart, some time later (past jose's 30 s cooldown).
      later(60);
      await rotating.rebuild({ keys: await buildKeySet([keyB, keyA], 'ES256') });
      const t2 = await rotating.signIn('u-2');
      expect(decodeProtectedHeader(t2).kid).toBe(keyB.kid);

      await expect(shared.verify(t2)).resolves.toMatchObject({ sub: 'corp:u-2' });
      expect(rotating.jwksFetches).toBe(2);
      await expect(shared.verify(t1)).resolves.toMatchObject({ sub: 'corp:u-1' });
      expect(rotating.jwksFetches).toBe(2);
    } finally {
      await rotating.close();
    }
  });

  it('tokens with unknown kids cost the gateway at most one JWKS fetch per 30 s', async () => {
    const shared = createVerifier({ issuer: gateway.issuer });
    await shared.verify(token);
    const fetches = gateway.jwksFetches;
    for (let i = 0; i < 10; i++) {
      expect((await refusal(shared.verify(await foreignToken(decodeJwt(token))))).cause).toBeInstanceOf(errors.JWKSNoMatchingKey);
    }
    expect(gateway.jwksFetches).toBe(fetches);

    later(31);
    expect((await refusal(shared.verify(await foreignToken(decodeJwt(token))))).code).toBe('invalid_token');
    expect(gateway.jwksFetches).toBe(fetches + 1);
  });
});

describe('porteroAuth on a Hono app', () => {
  let handled = 0;
  const app = new Hono<{ Variables: PorteroVariables }>();
  beforeAll(() => {
    app.use('/api/*', porteroAuth({ verifier }));
    app.get('/api/me', (c) => {
      handled += 1;
      return c.json(c.get('portero'));
    });
  });

  it('passes the claims to the handler, from the cookie or the Bearer header', async () => {
    for (const headers of [{ cookie: `auth_token=${token}` }, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
      const response = await app.request('/api/me', { headers });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(decodeJwt(token));
    }
  });

  it('answers 401 JSON with WWW-Authenticate without reaching the handler', async () => {
    const before = handled;
    const none = await app.request('/api/me');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(none.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await none.json()).toEqual({ error: 'missing_token' });

    const forged = await app.request('/api/me', { headers: { authorization: `Bearer ${tamper(token, { sub: 'corp:admin' })}` } });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(await forged.json()).toEqual({ error: 'invalid_token' });
    expect(handled).toBe(before);
  });

  it('answers 503 when the gateway cannot be reached, not a 401 that sends the user to sign in', async () => {
    const down = new Hono<{ Variables: PorteroVariables }>();
    down.use(porteroAuth({ issuer: gateway.issuer, jwksUrl: await deadUrl(), cookieName: 'portero' }));
    down.get('/', (c) => c.text('never'));
    const response = await down.request('/', { headers: { cookie: `portero=${token}` } });
    expect(response.status).toBe(503);
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(await response.json()).toEqual({ error: 'jwks_unavailable' });
  });
});

describe('expressAuth on a node:http server', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    const auth = expressAuth({ issuer: gateway.issuer, jwksUrl: gateway.jwksUrl });
    server = createServer((req: PorteroRequest, res) =>
      auth(req, res, (err) => {
        if (err) throw err;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(req.portero));
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/me`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sets req.portero to the claims, from the cookie or the Bearer header', async () => {
    for (const headers of [{ cookie: `auth_token=${token}` }, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
      const response = await fetch(url, { headers });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(decodeJwt(token));
    }
  });

  it('answers 401 JSON with WWW-Authenticate otherwise', async () => {
    const none = await fetch(url);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(await none.json()).toEqual({ error: 'missing_token' });

    const expired = await fetch(url, { headers: { cookie: `auth_token=${tamper(token, { exp: 1 })}` } });
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(await expired.json()).toEqual({ error: 'invalid_token' });
  });
});
