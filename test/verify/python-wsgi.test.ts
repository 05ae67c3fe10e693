import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { assertPythonJwt, PYTHON_APP, startPythonApp, startPythonBackend, type PythonBackend } from '../support/python.js';
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
  const response = await fetch(url, { headers });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

describe(`${PYTHON_APP} behind portero`, () => {
  it('answers 200 with the user for a token from a real sign-in, in the cookie or the Bearer header', async () => {
    const token = await gateway.signIn('u-7', { email: 'grace@example.com', email_verified: true });
    const fromCookie = await get(`${backend.url}/`, { cookie: `theme=dark; auth_token=${token}` });
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
    const forged = await get(`${backend.url}/`, { cookie: `auth_token=${tamper(await gateway.signIn('u-8'), { sub: 'corp:admin' })}` });
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

  it('answers 503 when it cannot fetch portero keys', async () => {
    const stranded = await startPythonBackend({ issuer: gateway.issuer, jwksUrl: await deadUrl(), audience: 'downstream-app' });
    try {
      const response = await get(`${stranded.url}/`, { cookie: `auth_token=${await gateway.signIn('u-9')}` });
      expect(response.status, stranded.output()).toBe(503);
      expect(response.body).toEqual({ error: 'jwks_unavailable' });
    } finally {
      await stranded.stop();
    }
  });

  it('refuses to start without PORTERO_ISSUER, saying so', async () => {
    await expect(startPythonApp({})).rejects.toThrow(/exited with code 2 before it was ready:\nPORTERO_ISSUER is required/);
  });
});
