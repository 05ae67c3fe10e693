import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_HEADERS, refuseIdentityHeaders } from '../../src/http/identity-headers.js';
import { buildTestApp, memoryStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { loopbackIsReal, serveGateway } from '../support/served-gateway.js';

// /auth refuses a request that brings an identity header of its own, in any spelling an app may
// read as one, before it looks at any token: a proxy that passes the client's headers on to the
// app (a Caddyfile without `request_header -X-Auth-Request-*`, Traefik with a header /auth did
// not answer, Caddy 2.6 passing `X_Auth_Request_User` as it is) then has nothing to pass.

const idp = await new MockOidcProvider().init();
const msw = setupServer(loopbackIsReal, ...idp.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const GATEWAY = 'https://auth.example.com';
const FORGED = 'corp:mallory-the-forger';

async function signedIn(): Promise<{ gateway: TestApp; token: string }> {
  const gateway = await buildTestApp({ store: memoryStore(), env: { ...idp.env('corp'), PUBLIC_URL: GATEWAY } });
  const browser = new TestBrowser();
  const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
  const params = idp.authorize(login.headers.get('location')!, { sub: 'ada', claims: { email: 'ada@corp.example', email_verified: true } });
  expect((await browser.get(gateway.app, `${GATEWAY}/callback/corp?${params}`)).status).toBe(302);
  return { gateway, token: (await browser.cookie(GATEWAY, '__Host-auth_token'))!.value };
}

let gateway: TestApp;
let token: string;
beforeAll(async () => {
  ({ gateway, token } = await signedIn());
});
const auth = (path: string, headers: Record<string, string>) =>
  gateway.app.request(`${GATEWAY}${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...headers } });

describe('GET /auth refuses a request carrying an identity header of its own', () => {
  it.each([
    'X-Auth-Request-User',
    'x-auth-request-user',
    'X-AUTH-REQUEST-EMAIL',
    'X_AUTH_REQUEST_USER',
    'x_auth_request_email',
    'x_auth-request_groups',
    'X-Auth-Request_Preferred_Username',
    'x-auth-request-preferred-username',
    'X-Auth-Request-Groups',
    'X-Auth-Request-Token',
    'x_Auth_Request_Token',
  ])('%s: 403 identity_header_sent, with a valid token too, naming the header in the log and never its value', async (name) => {
    const before = gateway.logs.lines.length;
    const response = await auth('/auth', { [name]: FORGED });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'identity_header_sent' });
    // Nothing a proxy could copy to the app.
    for (const header of IDENTITY_HEADERS) expect(response.headers.get(header)).toBeNull();
    const lines = gateway.logs.lines.slice(before);
    expect(lines).toContainEqual(
      expect.objectContaining({ path: '/auth', status: 403, error: 'identity_header_sent', header: name.toLowerCase(), level: 'warn' }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ event: 'identity_header_refused', header: name.toLowerCase() }));
    expect(gateway.logs.raw.join('\n')).not.toContain(FORGED);
  });

  it('refuses before it reads any token: 403, not the 401 of a request without one', async () => {
    const response = await gateway.app.request(`${GATEWAY}/auth`, { headers: { 'x-auth-request-user': FORGED } });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-auth-request-redirect')).toBeNull();
    expect(await response.text()).toContain('This request named who sent it');
    // Counted as /auth's other 403, not as an error of portero's.
    expect((await gateway.metrics.scrape()).body).toContain('portero_auth_requests_total{result="forbidden"} 1');
  });

  it('refuses an empty one too, and at /auth/redirect with a 403, not the redirect to sign in', async () => {
    expect((await auth('/auth', { 'x-auth-request-groups': '' })).status).toBe(403);
    const redirect = await gateway.app.request(`${GATEWAY}/auth/redirect`, { headers: { x_auth_request_user: FORGED } });
    expect(redirect.status).toBe(403);
    expect(redirect.headers.get('location')).toBeNull();
  });

  it('lets X-Auth-Request-Redirect through (ingress-nginx sends it on its own), and headers merely alike', async () => {
    const response = await auth('/auth', {
      'x-auth-request-redirect': '/app/page',
      'x-auth-request-role': 'admin',
      'x-auth-request-user-agent': 'x',
      'x-forwarded-user': FORGED,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-auth-request-user')).toBe('corp:ada');
    const stranger = await gateway.app.request(`${GATEWAY}/auth`, { headers: { 'x-auth-request-redirect': '/app/page' } });
    expect(stranger.status).toBe(401);
  });

  it('refuses exactly the headers it answers a signed-in request with', async () => {
    const response = await auth('/auth', {});
    expect(response.status).toBe(200);
    const sent = [...response.headers.keys()].filter((name) => name.startsWith('x-auth-request-'));
    expect(sent.sort()).toEqual([...IDENTITY_HEADERS].sort());
  });
});

describe('over a real socket (@hono/node-server)', () => {
  it('sees a name with underscores as the client sent it, and refuses it', async () => {
    const served = await serveGateway(idp);
    try {
      const cookie = await served.signIn('ada');
      const status = await new Promise<number>((resolve, reject) => {
        const url = new URL('/auth', served.origin);
        const req = httpRequest(url, { headers: { cookie: `auth_token=${cookie}`, X_Auth_Request_User: FORGED } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(403);
      expect(served.app.logs.lines).toContainEqual(expect.objectContaining({ path: '/auth', header: 'x_auth_request_user' }));
    } finally {
      await served.close();
    }
  });

  it('refuses one hidden after a thousand other headers, which Node drops unseen (its maxHeadersCount)', async () => {
    const served = await serveGateway(idp);
    try {
      const cookie = await served.signIn('ada');
      const { host, port } = new URL(served.origin);
      const filler = Array.from({ length: 1100 }, (_, i) => `f${i}: 1\r\n`).join('');
      const head = `GET /auth HTTP/1.1\r\nHost: ${host}\r\nCookie: auth_token=${cookie}\r\n${filler}X-Auth-Request-Email: ceo@corp.example\r\nConnection: close\r\n\r\n`;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.write(head));
        let text = '';
        socket.on('data', (chunk) => (text += chunk));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      // A proxy that passes the client's headers on would hand the app the forged one beside portero's 200.
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 403 Forbidden');
      expect(answer.toLowerCase()).not.toContain('x-auth-request-user:');
      expect(served.app.logs.lines).toContainEqual(expect.objectContaining({ path: '/auth', error: 'identity_header_sent' }));
    } finally {
      await served.close();
    }
  });
});

describe('refuseIdentityHeaders', () => {
  it('refuses a request of 1000 headers or more, as Node keeps no more (rawHeaders or Headers alike), and takes 999', () => {
    const names = (count: number) => Array.from({ length: count }, (_, i) => [`f${i}`, '1']);
    const raw = (count: number) => names(count).flat();
    expect(() => refuseIdentityHeaders(new Headers(), raw(1023))).toThrow(/more headers than could be checked/);
    expect(() => refuseIdentityHeaders(new Headers(names(1000) as [string, string][]))).toThrow(/more headers/);
    expect(() => refuseIdentityHeaders(new Headers(), raw(999))).not.toThrow();
  });
});
