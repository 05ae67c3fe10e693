import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { network, TestBrowser } from '../support/browser.js';
import { APP_ONE_SECRET, basic, type PorteroOpStack, signInToApp, startPorteroOp } from '../support/portero-op.js';

// The provider's endpoints as the other issues' rules hold them: the token endpoint's limit per
// app, refresh tokens only for an app allowed them, X-Forwarded-* never believed from a client,
// one log line a request, and clear pages for what a person can meet.

let stack: PorteroOpStack;
beforeAll(async () => {
  stack = await startPorteroOp({ APP_ONE_OFFLINE_ACCESS: 'true', APP_ONE_RESOURCES: API });
});
afterAll(() => stack.close());

/** App one's own API, registered as its resource. */
const API = 'https://api.one.example';

const badExchange = (publicUrl: string, authorization: string | undefined, form: Record<string, string> = {}) =>
  fetch(`${publicUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: 'x', ...form }),
  });

describe('the OpenID Provider’s endpoints', () => {
  it('limits the token endpoint per client_id (RATE_LIMIT_TOKEN): one app over it gets 429, another app does not', async () => {
    const limited = await startPorteroOp({ RATE_LIMIT_TOKEN: '4/60s' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await badExchange(limited.publicUrl, basic('one', APP_ONE_SECRET))).status);
      expect(statuses).toEqual([400, 400, 400, 400]);
      const refused = await badExchange(limited.publicUrl, basic('one', APP_ONE_SECRET));
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await refused.json()) as object).toMatchObject({ error: 'rate_limited' });
      // The public app names itself in the form: counted apart.
      expect((await badExchange(limited.publicUrl, undefined, { client_id: 'two' })).status).toBe(400);
      expect(limited.gateway.logs.lines.find((line) => line.error === 'rate_limited')).toMatchObject({
        route: '/token',
        limit: 'token',
        client_id: 'one',
      });
    } finally {
      await limited.close();
    }
  });

  it('holds /authorize to RATE_LIMIT_LOGIN’s rule, counted apart: each from a browser not signed in stores an interaction', async () => {
    const limited = await startPorteroOp({ RATE_LIMIT_LOGIN: '3/60s' });
    try {
      const authorize = () => fetch(`${limited.publicUrl}/authorize?client_id=one&response_type=code&scope=openid`, { redirect: 'manual' });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await authorize()).status);
      expect(statuses.slice(0, 3).every((status) => status !== 429)).toBe(true);
      expect(statuses[3]).toBe(429);
      // Its own count: /login still has its three.
      expect((await fetch(`${limited.publicUrl}/login/corp`, { redirect: 'manual' })).status).toBe(302);
    } finally {
      await limited.close();
    }
  });

  it('takes a confidential app’s secret in the Authorization header or the form body, as clients send it', async () => {
    // Past client authentication both ways: the code is what is wrong.
    expect(((await (await badExchange(stack.publicUrl, basic('one', APP_ONE_SECRET))).json()) as { error: string }).error).toBe(
      'invalid_grant',
    );
    const byForm = await badExchange(stack.publicUrl, undefined, { client_id: 'one', client_secret: APP_ONE_SECRET });
    expect(((await byForm.json()) as { error: string }).error).toBe('invalid_grant');
    const wrong = await badExchange(stack.publicUrl, undefined, { client_id: 'one', client_secret: `${APP_ONE_SECRET}x` });
    expect(((await wrong.json()) as { error: string }).error).toBe('invalid_client');
  });

  it('issues a refresh token to an app allowed offline access that asks for it, and refreshes while portero’s session lives', async () => {
    const browser = new TestBrowser();
    const one = await stack.appSignIn(browser, 'one', { scope: 'openid email offline_access', prompt: 'consent' });
    expect(one.tokens.refresh_token).toEqual(expect.any(String));
    const refreshed = await client.refreshTokenGrant(one.config, one.tokens.refresh_token!);
    expect(decodeJwt(refreshed.id_token!)).toMatchObject({ sub: 'corp:alice', aud: 'one' });
    // Signed out at portero: the app's refresh token ends with the session.
    await browser.request(network, `${stack.publicUrl}/logout`, { method: 'POST' });
    await expect(client.refreshTokenGrant(one.config, refreshed.refresh_token ?? one.tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('gives an app an RFC 9068 at+jwt for its own API (resource), which /auth refuses as not portero’s', async () => {
    const browser = new TestBrowser();
    const config = await stack.discover('one');
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${stack.appsUrl}/one/callback`,
      scope: 'openid api',
      resource: API,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'api-state',
    });
    const walk = await signInToApp(browser, url, { appRedirect: `${stack.appsUrl}/one/callback`, upstream: stack.upstream.issuer });
    const tokens = await client.authorizationCodeGrant(
      config,
      walk.callback,
      { pkceCodeVerifier: verifier, expectedState: 'api-state' },
      {
        resource: API,
      },
    );
    const jwks = createRemoteJWKSet(new URL(`${stack.publicUrl}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: stack.publicUrl,
      audience: API,
      typ: 'at+jwt',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ sub: 'corp:alice', client_id: 'one', scope: 'api' });
    const auth = await fetch(`${stack.publicUrl}/auth`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(auth.status).toBe(401);
  });

  it('refuses an access token for an API the app did not register: invalid_target, no code', async () => {
    const config = await stack.discover('two');
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${stack.appsUrl}/two/callback`,
      scope: 'openid api',
      resource: API,
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: 's',
    });
    const back = new URL((await new TestBrowser().get(network, url)).headers.get('location')!);
    expect(back.searchParams.get('error')).toBe('invalid_target');
    expect(back.searchParams.has('code')).toBe(false);
  });

  it('counts an app’s refresh as the user active: the portero session’s idle limit starts again', async () => {
    const browser = new TestBrowser();
    const one = await stack.appSignIn(browser, 'one', { scope: 'openid offline_access', prompt: 'consent' });
    const sid = decodeJwt(one.tokens.id_token!).sid as string;
    const lastSeen = async () => (JSON.parse((await stack.gateway.store.get(`session:${sid}`))!) as { lastSeen: number }).lastSeen;
    const before = await lastSeen();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await client.refreshTokenGrant(one.config, one.tokens.refresh_token!);
    expect(await lastSeen()).toBeGreaterThan(before);
  });

  it('issues no refresh token to an app not allowed offline access, even when it asks', async () => {
    const two = await stack.appSignIn(new TestBrowser(), 'two', { scope: 'openid offline_access', prompt: 'consent' });
    expect(two.tokens.refresh_token).toBeUndefined();
  });

  it('refuses a token request larger than oidc-provider reads (56 KiB), chunked too, before reading it', async () => {
    const big = 'x'.repeat(57 * 1024);
    const sized = await badExchange(stack.publicUrl, basic('one', APP_ONE_SECRET), { padding: big });
    expect(sized.status).toBe(400);
    // portero's refusal, not the provider's invalid_grant for the made-up code it would reach with the body read.
    expect(await sized.json()).toMatchObject({ error: 'bad_request' });
    const chunked = await fetch(`${stack.publicUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 60; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(400);
    expect(await chunked.json()).toMatchObject({ error: 'bad_request' });
  });

  it('lets a single-page app call the token endpoint and userinfo from its own origin (CORS), and no other origin', async () => {
    const { tokens } = await stack.appSignIn(new TestBrowser(), 'two');
    const preflight = await fetch(`${stack.publicUrl}/token`, {
      method: 'OPTIONS',
      headers: { origin: stack.appsUrl, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(stack.appsUrl);
    const userinfo = (origin: string) =>
      fetch(`${stack.publicUrl}/userinfo`, { headers: { origin, authorization: `Bearer ${tokens.access_token}` } });
    const own = await userinfo(stack.appsUrl);
    expect(own.status).toBe(200);
    expect(own.headers.get('access-control-allow-origin')).toBe(stack.appsUrl);
    const other = await userinfo('https://elsewhere.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.status).toBe(400);
    const exchange = await fetch(`${stack.publicUrl}/token`, {
      method: 'POST',
      headers: { origin: 'https://elsewhere.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'nope', client_id: 'two', redirect_uri: 'x' }),
    });
    expect(exchange.headers.get('access-control-allow-origin')).toBeNull();
    // The keys and the metadata are public: any page may read them.
    for (const path of ['/.well-known/jwks.json', '/.well-known/openid-configuration']) {
      const response = await fetch(`${stack.publicUrl}${path}`, { headers: { origin: 'https://elsewhere.example' } });
      expect(['*', 'https://elsewhere.example'], path).toContain(response.headers.get('access-control-allow-origin'));
    }
  });

  it('believes no X-Forwarded-* of a client: the provider’s addresses are PUBLIC_URL’s', async () => {
    const response = await fetch(`${stack.publicUrl}/.well-known/openid-configuration`, {
      headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', forwarded: 'host=evil.example;proto=https' },
    });
    const metadata = (await response.json()) as Record<string, string>;
    expect(metadata.authorization_endpoint).toBe(`${stack.publicUrl}/authorize`);
    expect(JSON.stringify(metadata)).not.toContain('evil.example');
  });

  it('logs one line per request the provider answered, with its status and never the query', async () => {
    const response = await fetch(`${stack.publicUrl}/authorize?client_id=nobody&code=secret-looking-value`);
    expect(response.status).toBe(400);
    const line = stack.gateway.logs.lines.findLast((entry) => entry.route === '/authorize');
    expect(line).toMatchObject({ status: 400, path: '/authorize', method: 'GET' });
    expect(JSON.stringify(stack.gateway.logs.lines)).not.toContain('secret-looking-value');
  });

  it('shows a page a person understands for an unknown app, with portero’s security headers', async () => {
    const response = await new TestBrowser().get(network, `${stack.publicUrl}/authorize?client_id=nobody&response_type=code&scope=openid`);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    const page = await response.text();
    expect(page).toContain('not registered with portero');
    expect(page).toContain('start again');
  });

  it('answers an interaction that expired or belongs to another browser with a page, not an error', async () => {
    const response = await new TestBrowser().get(network, `${stack.publicUrl}/interaction/no-such-interaction`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('Your sign-in expired');
  });
});
