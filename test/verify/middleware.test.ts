import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expressAuth, porteroAuth, type PorteroRequest, type PorteroVariables } from '../../src/verify/index.js';
import { deadUrl, tamper } from '../support/served-gateway.js';
import { foreignToken, verifyFixture } from '../support/verify.js';

// porteroAuth (Hono) and expressAuth (Express, Connect, node:http) in front of a handler, with the
// keys fetched over real HTTP from a gateway served on 127.0.0.1 and a token from a real sign-in.

const { gateway, verifier, token } = await verifyFixture();

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
    for (const headers of [{ cookie: `__Host-auth_token=${token}` }, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
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

  it("lets an app's own bearer token pass beside portero's cookie, and refuses two portero tokens of two people", async () => {
    const appsOwn = await foreignToken({ ...decodeJwt(token), sub: 'corp:victim' });
    const mixed = await app.request('/api/me', { headers: { authorization: `Bearer ${appsOwn}`, cookie: `__Host-auth_token=${token}` } });
    expect(mixed.status).toBe(200);
    expect(await mixed.json()).toMatchObject({ sub: 'corp:u-7' });
    const other = await gateway.signIn('u-other');
    const two = await app.request('/api/me', { headers: { authorization: `Bearer ${other}`, cookie: `__Host-auth_token=${token}` } });
    expect(two.status).toBe(401);
    expect(await two.json()).toEqual({ error: 'invalid_token' });
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
    for (const headers of [{ cookie: `__Host-auth_token=${token}` }, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
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

    const twice = await fetch(url, { headers: { cookie: `__Host-auth_token=${token}; __Host-auth_token=${token}` } });
    expect(twice.status).toBe(401);
    expect(await twice.json()).toEqual({ error: 'invalid_token' });

    const tampered = await fetch(url, { headers: { cookie: `__Host-auth_token=${tamper(token, { exp: 1 })}` } });
    expect(tampered.status).toBe(401);
    expect(tampered.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(await tampered.json()).toEqual({ error: 'invalid_token' });
  });
});
