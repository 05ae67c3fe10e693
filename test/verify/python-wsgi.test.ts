import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { assertPythonJwt, PYTHON_APP, startPythonApp, startPythonBackend, withHeader, type PythonBackend } from '../support/python.js';
import { deadUrl, loopbackIsReal, serveGateway, tamper, type ServedGateway } from '../support/served-gateway.js';

// examples/python/app.py, the WSGI backend a Python team copies, run as a real process by Debian's
// Python: it reads portero's token from the cookie or the Bearer header and verifies it with
// PyJWT against the keys of a gateway served by this process over real HTTP.

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers(), loopbackIsReal);
let gateway: ServedGateway;
let backend: PythonBackend;

beforeAll(async () => {
  assertPythonJwt();
  msw.listen({ onUnhandledRequest: 'error' });
  gateway = await serveGateway(idp, { env: { JWT_AUDIENCE: 'downstream-app' } });
  backend = await startPythonBackend({ issuer: gateway.issuer, jwksUrl: gateway.jwksUrl, audience: 'downstream-app' });
});
afterAll(async () => {
  await backend?.stop();
  await gateway?.close();
  msw.close();
});

async function get(url: string, headers: Record<string, string> = {}) {
  // A backend that hangs fails the test here, not at vitest's timeout.
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

/** A backend of its own (a fresh key cache) for `gateway`'s tokens, stopped after `use`. */
async function withBackend<T>(
  options: { jwksUrl?: string; algorithms?: string[] },
  use: (backend: PythonBackend) => Promise<T>,
): Promise<T> {
  const own = await startPythonBackend({ issuer: gateway.issuer, jwksUrl: gateway.jwksUrl, audience: 'downstream-app', ...options });
  try {
    return await use(own);
  } finally {
    await own.stop();
  }
}

/** A JWKS URL whose server accepts the connection and never answers: a gateway that hangs. */
async function hangingUrl(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe(`${PYTHON_APP} behind portero`, () => {
  it('answers 200 with the user for a token from a real sign-in, in the cookie or the Bearer header', async () => {
    const token = await gateway.signIn('u-7', { email: 'grace@example.com', email_verified: true });
    const fromCookie = await get(`${backend.url}/`, { cookie: `theme=dark; __Host-auth_token=${token}` });
    expect(fromCookie.status, backend.output()).toBe(200);
    expect(fromCookie.body).toEqual({ user: 'corp:u-7', email: 'grace@example.com' });

    const fromBearer = await get(`${backend.url}/api/me`, { authorization: `Bearer ${token}` });
    expect(fromBearer.status, backend.output()).toBe(200);
    expect(fromBearer.body).toEqual({ user: 'corp:u-7', email: 'grace@example.com' });
  });

  it('answers 401 JSON without a token', async () => {
    const none = await get(`${backend.url}/`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(none.body).toEqual({ error: 'missing_token' });
  });

  it('answers 401 JSON for a forged token and for a token of another portero', async () => {
    const forged = await get(`${backend.url}/`, {
      cookie: `__Host-auth_token=${tamper(await gateway.signIn('u-8'), { sub: 'corp:admin' })}`,
    });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(forged.body).toEqual({ error: 'invalid_token' });

    // Its key is not in our gateway's JWKS: refused as the token's fault, not as keys unavailable.
    const elsewhere = await serveGateway(idp, { env: { JWT_AUDIENCE: 'downstream-app' } });
    try {
      const foreign = await get(`${backend.url}/`, { authorization: `Bearer ${await elsewhere.signIn('u-7')}` });
      expect(foreign.status).toBe(401);
      expect(foreign.body).toEqual({ error: 'invalid_token' });
    } finally {
      await elsewhere.close();
    }
  });

  it("ignores an app's own bearer token beside portero's cookie, by the rule of portero's /auth", async () => {
    const token = await gateway.signIn('u-7', { email: 'grace@example.com', email_verified: true });
    const { privateKey } = await generateKeyPair('ES256');
    const appsOwn = await new SignJWT({ ...decodeJwt(token), sub: 'corp:victim' })
      .setProtectedHeader({ alg: 'ES256', kid: decodeProtectedHeader(token).kid!, typ: 'JWT' })
      .sign(privateKey);
    for (const bearer of ['the-apps-own-api-token', appsOwn]) {
      const mixed = await get(`${backend.url}/`, { authorization: `Bearer ${bearer}`, cookie: `__Host-auth_token=${token}` });
      expect(mixed.status, backend.output()).toBe(200);
      expect(mixed.body).toEqual({ user: 'corp:u-7', email: 'grace@example.com' });
    }
  });

  it('refuses two portero tokens that disagree on sub or sid, and more than one token cookie', async () => {
    const mine = await gateway.signIn('u-7');
    const theirs = await gateway.signIn('u-victim');
    const mineAgain = await gateway.signIn('u-7');
    for (const [bearer, cookie] of [
      [theirs, mine],
      [mine, theirs],
      [mineAgain, mine],
    ]) {
      const refused = await get(`${backend.url}/`, { authorization: `Bearer ${bearer}`, cookie: `__Host-auth_token=${cookie}` });
      expect(refused.status, backend.output()).toBe(401);
      expect(refused.body).toEqual({ error: 'invalid_token' });
    }
    const twice = await get(`${backend.url}/`, { cookie: `__Host-auth_token=${theirs}; __Host-auth_token=${mine}` });
    expect(twice.status).toBe(401);
    expect(twice.body).toEqual({ error: 'invalid_token' });
    // The controls: one token, or the same one twice over, passes.
    expect((await get(`${backend.url}/`, { authorization: `Bearer ${mine}`, cookie: `__Host-auth_token=${mine}` })).status).toBe(200);
    // The default cookie is __Host-auth_token: a plain auth_token (as a sibling could plant) is not read.
    expect((await get(`${backend.url}/`, { cookie: `auth_token=${mine}` })).body).toEqual({ error: 'missing_token' });
  });

  it("answers 401, not 500, for malformed claims or another encoding of a token signed with portero's key", async () => {
    const token = await gateway.signIn('u-7');
    const { kid, alg, key } = gateway.app.keys.signing;
    for (const change of [{ sub: { id: 1 } }, { sid: ['a', 'b'] }, { exp: 1e308 }, { name: 7 }]) {
      const malformed = await new SignJWT({ ...decodeJwt(token), ...change } as JWTPayload)
        .setProtectedHeader({ alg, kid, typ: 'JWT' })
        .sign(key);
      const refused = await get(`${backend.url}/`, { authorization: `Bearer ${malformed}` });
      expect(refused.status, `${JSON.stringify(change)}: ${backend.output()}`).toBe(401);
      expect(refused.body).toEqual({ error: 'invalid_token' });
    }
    const [h, p, sig] = token.split('.') as [string, string, string];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const flipped = sig.slice(0, -1) + alphabet[alphabet.indexOf(sig.at(-1)!) ^ 1];
    for (const variant of [`${h}.${p}.${sig}==`, `${h}.${p}.${flipped}`]) {
      expect((await get(`${backend.url}/`, { authorization: `Bearer ${variant}` })).status, backend.output()).toBe(401);
    }
  });

  it('answers 503 when it cannot fetch portero keys', async () => {
    const stranded = await startPythonBackend({ issuer: gateway.issuer, jwksUrl: await deadUrl(), audience: 'downstream-app' });
    try {
      const response = await get(`${stranded.url}/`, { cookie: `__Host-auth_token=${await gateway.signIn('u-9')}` });
      expect(response.status, stranded.output()).toBe(503);
      expect(response.body).toEqual({ error: 'jwks_unavailable' });
    } finally {
      await stranded.stop();
    }
  });

  // Regression: with all three algorithms allowed, `alg: RS256` and the kid of the EC key made PyJWT
  // raise a TypeError, and app.py answered 500.
  it("answers 401 invalid_token for a header that names another algorithm than its key's, all three allowed", async () => {
    const token = await gateway.signIn('u-7');
    await withBackend({ algorithms: ['ES256', 'EdDSA', 'RS256'] }, async (lenient) => {
      for (const alg of ['RS256', 'EdDSA']) {
        const forged = await get(`${lenient.url}/`, {
          authorization: `Bearer ${withHeader(token, { ...decodeProtectedHeader(token), alg })}`,
        });
        expect(forged.status, lenient.output()).toBe(401);
        expect(forged.body).toEqual({ error: 'invalid_token' });
      }
      expect((await get(`${lenient.url}/`, { authorization: `Bearer ${token}` })).status).toBe(200);
    });
  });

  // Regression: PyJWT 2.6 fetched the keys again for every token naming an unknown kid.
  it('fetches the keys at most once for 20 tokens with made-up kids, and still takes a good token', async () => {
    const token = await gateway.signIn('u-7');
    await withBackend({}, async (own) => {
      expect((await get(`${own.url}/`, { authorization: `Bearer ${token}` })).status, own.output()).toBe(200);
      const before = gateway.jwksFetches;
      for (let i = 0; i < 20; i++) {
        const madeUp = withHeader(token, { ...decodeProtectedHeader(token), kid: randomBytes(16).toString('base64url') });
        const refused = await get(`${own.url}/`, { authorization: `Bearer ${madeUp}` });
        expect(refused.status, own.output()).toBe(401);
        expect(refused.body).toEqual({ error: 'invalid_token' });
      }
      expect(gateway.jwksFetches - before).toBeLessThanOrEqual(1);
      const after = gateway.jwksFetches;
      expect((await get(`${own.url}/`, { authorization: `Bearer ${token}` })).status).toBe(200);
      expect(gateway.jwksFetches).toBe(after);
    });
  });

  // Regression: the JWKS was fetched without a timeout, so a gateway that accepted the connection
  // and never answered froze the (single-threaded) backend.
  it('answers 503 within about 5 s when portero accepts the connection for its keys and never answers', async () => {
    const hanging = await hangingUrl();
    try {
      await withBackend({ jwksUrl: hanging.url }, async (stuck) => {
        const token = await gateway.signIn('u-9');
        const started = Date.now();
        const response = await get(`${stuck.url}/`, { cookie: `__Host-auth_token=${token}` });
        const elapsed = Date.now() - started;
        expect(response.status, stuck.output()).toBe(503);
        expect(response.body).toEqual({ error: 'jwks_unavailable' });
        expect(elapsed).toBeGreaterThan(4_000);
        expect(elapsed).toBeLessThan(7_000);
      });
    } finally {
      await hanging.close();
    }
  }, 20_000);

  it('refuses to start without PORTERO_ISSUER, saying so', async () => {
    await expect(startPythonApp({})).rejects.toThrow(/exited with code 2 before it was ready:\nPORTERO_ISSUER is required/);
  });

  it('refuses to start with an algorithm portero does not sign with, naming every problem at once', async () => {
    await expect(startPythonApp({ PORTERO_ALGORITHMS: 'ES256,HS256' })).rejects.toThrow(
      /exited with code 2 before it was ready:\nPORTERO_ISSUER is required.*\nPORTERO_ALGORITHMS: portero signs with ES256, EdDSA or RS256, not HS256\n/,
    );
  });
});
