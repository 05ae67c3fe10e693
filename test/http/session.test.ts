import { PorteroError, STORE_UNAVAILABLE } from '../../src/errors.js';
import { decodeJwt, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp, fromPeer, ManualClock, memoryStore, type TestApp } from '../support/app.js';
import { setCookieLines, TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://auth.example.com';

let clock: ManualClock;
let gateway: TestApp;

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
const gatewayEnv = {
  ...idp.env('corp'),
  PUBLIC_URL: GATEWAY,
  COOKIE_DOMAIN: '.example.com',
  JWT_AUDIENCE: 'downstream',
  JWT_TTL: '900',
  ALLOWED_REDIRECTS: 'https://*.example.com',
};

beforeEach(async () => {
  clock = new ManualClock();
  gateway = await buildTestApp({ store: memoryStore(clock), clock, env: gatewayEnv });
});

/** Signs a browser in through the real flow; returns the browser and its token. */
async function signIn(user = { sub: 'u-7', claims: { email: 'lin@example.com', email_verified: true, preferred_username: 'lin' } }) {
  const browser = new TestBrowser();
  const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
  const done = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(login.headers.get('location')!, user)}`);
  expect(done.status).toBe(302);
  return { browser, token: (await browser.cookie(GATEWAY, 'auth_token'))!.value, done };
}

describe('the token cookie', () => {
  it('is scoped to COOKIE_DOMAIN so apps on sibling subdomains receive it', async () => {
    const { browser, done } = await signIn();
    expect(setCookieLines(done).get('auth_token')).toMatch(/Domain=\.example\.com/);
    expect(await browser.cookie('https://app.example.com/', 'auth_token')).toBeDefined();
    expect(await browser.cookie('https://example.org/', 'auth_token')).toBeUndefined();
  });
});

describe('GET /auth (forward auth)', () => {
  it('answers 200 with identity headers for the token cookie', async () => {
    const { browser, token } = await signIn();
    const response = await browser.get(gateway.app, `${GATEWAY}/auth`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-auth-request-user')).toBe('corp:u-7');
    expect(response.headers.get('x-auth-request-email')).toBe('lin@example.com');
    expect(response.headers.get('x-auth-request-preferred-username')).toBe('lin');
    expect(response.headers.get('x-auth-request-token')).toBe(token);
  });

  it('accepts Authorization: Bearer', async () => {
    const { token } = await signIn();
    const response = await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.headers.get('x-auth-request-user')).toBe('corp:u-7');
  });

  it('answers 401 without a token, with a tampered one, and an expired one whose session ended', async () => {
    const { token } = await signIn();
    const ask = (headers: Record<string, string>) =>
      gateway.app.request(`${GATEWAY}/auth`, { headers: { accept: 'application/json', ...headers } });
    const none = await ask({});
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: 'unauthenticated' });
    const [h, p, s] = token.split('.');
    const tampered = `${h}.${p!.slice(0, -3)}AAA.${s}`;
    expect((await ask({ authorization: `Bearer ${tampered}` })).status).toBe(401);
    expect((await ask({ cookie: `auth_token=${token}` })).status).toBe(200);
    // CLOCK_SKEW (30 s by default) past exp, an instance whose clock runs behind would still take it.
    clock.advance(900 + 29);
    expect((await ask({ cookie: `auth_token=${token}` })).status).toBe(200);
    clock.advance(1);
    // Expired: as a bearer token it is refused (an API client renews with POST /refresh)...
    expect((await ask({ authorization: `Bearer ${token}` })).status).toBe(401);
    // ...and as the cookie it is renewed while its session lives, not once the session fell idle (SESSION_IDLE_TTL, a day).
    clock.advance(24 * 3600);
    expect((await ask({ cookie: `auth_token=${token}` })).status).toBe(401);
  });

  it('sends identity headers as UTF-8 bytes, never a verified-looking unverified email', async () => {
    const { browser } = await signIn({
      sub: 'u-8',
      claims: { preferred_username: '山田', email: 'yamada@example.com', email_verified: false },
    });
    const response = await browser.get(gateway.app, `${GATEWAY}/auth`);
    expect(response.status).toBe(200);
    const utf8 = (value: string | null) => Buffer.from(value ?? '', 'latin1').toString('utf8');
    expect(utf8(response.headers.get('x-auth-request-preferred-username'))).toBe('山田');
    // Unverified: anyone may have typed it at the provider. Apps that key accounts by it must not see it.
    // Sent empty, so a proxy copying it overwrites a value the client sent under that name.
    expect(response.headers.get('x-auth-request-email')).toBe('');
    expect(response.headers.get('x-auth-request-groups')).toBe('');
  });

  it('ignores a bearer token portero did not issue beside its cookie, so an app sending its own upstream does not lock users out', async () => {
    const { browser, token } = await signIn();
    const { privateKey } = await generateKeyPair('ES256');
    // An app's own JWT, even one naming portero's kid, issuer and someone else: not signed by portero's keys.
    const appsOwn = await new SignJWT({ iss: GATEWAY, aud: 'downstream', sub: 'corp:victim', sid: 's' })
      .setProtectedHeader({ alg: 'ES256', kid: gateway.keys.signing.kid, typ: 'JWT' })
      .sign(privateKey);
    for (const bearer of ['the-apps-own-api-token', appsOwn]) {
      const response = await browser.get(gateway.app, `${GATEWAY}/auth`, { authorization: `Bearer ${bearer}` });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-auth-request-user')).toBe('corp:u-7');
      expect(response.headers.get('x-auth-request-token')).toBe(token);
    }
  });

  it('names the sign-in page, returning to the URL a trusted proxy was asked for, when it refuses', async () => {
    const proxied = await buildTestApp({ store: memoryStore(clock), clock, env: { ...gatewayEnv, TRUSTED_PROXIES: '10.0.0.0/8' } });
    const ask = (headers: Record<string, string>, peer = '10.0.0.2') => proxied.app.request(`${GATEWAY}/auth`, { headers }, fromPeer(peer));
    const nginx = await ask({ 'x-original-url': 'https://app.example.com/reports?year=2026&q=a%20b' });
    expect(nginx.status).toBe(401);
    const target = new URL(nginx.headers.get('x-auth-request-redirect')!);
    expect(target.origin + target.pathname).toBe(`${GATEWAY}/`);
    expect(target.searchParams.get('return_to')).toBe('https://app.example.com/reports?year=2026&q=a%20b');
    const traefik = await ask({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'wiki.example.com', 'x-forwarded-uri': '/page' });
    expect(new URL(traefik.headers.get('x-auth-request-redirect')!).searchParams.get('return_to')).toBe('https://wiki.example.com/page');
    // An address portero would not return to is left out rather than passed on.
    const foreign = await ask({ 'x-original-url': 'https://evil.example.net/' });
    expect(foreign.headers.get('x-auth-request-redirect')).toBe(`${GATEWAY}/`);
    // From a peer that is not a trusted proxy, the headers are the client's own words: not believed.
    const direct = await ask({ 'x-original-url': 'https://app.example.com/reports' }, '198.51.100.7');
    expect(direct.headers.get('x-auth-request-redirect')).toBe(`${GATEWAY}/`);
    const untrustedGateway = await gateway.app.request(
      `${GATEWAY}/auth`,
      { headers: { 'x-original-url': 'https://app.example.com/' } },
      fromPeer('10.0.0.2'),
    );
    expect(untrustedGateway.headers.get('x-auth-request-redirect')).toBe(`${GATEWAY}/`);
  });

  it.each([
    ['a protocol-relative URL', { 'x-original-url': '//evil.example.net/' }],
    ['a bare relative reference', { 'x-original-url': 'reports' }],
    ['a host with a trailing dot', { 'x-original-url': 'https://app.example.com./' }],
    ['a forwarded host that is another site', { 'x-forwarded-host': 'example.com.evil.net', 'x-forwarded-uri': '/' }],
    ['a forwarded URI that makes the host credentials', { 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '@evil.net/' }],
  ])('leaves return_to out of the sign-in address for %s', async (_, headers: Record<string, string>) => {
    // From a trusted proxy, whose headers are believed: what is refused here is the URL itself.
    const proxied = await buildTestApp({ store: memoryStore(clock), clock, env: { ...gatewayEnv, TRUSTED_PROXIES: '10.0.0.0/8' } });
    const response = await proxied.app.request(`${GATEWAY}/auth`, { headers }, fromPeer('10.0.0.2'));
    expect(response.status).toBe(401);
    expect(response.headers.get('x-auth-request-redirect')).toBe(`${GATEWAY}/`);
  });

  it('refuses a token of another issuer, and one of another audience, each signed with the same key', async () => {
    /** A token from a gateway sharing this one's key, differing in one setting only. */
    const tokenFrom = async (env: Record<string, string>) => {
      const other = await buildTestApp({
        store: memoryStore(),
        keys: gateway.keys,
        env: { ...idp.env('corp'), JWT_AUDIENCE: 'downstream', ...env },
      });
      const origin = env.PUBLIC_URL ?? GATEWAY;
      const browser = new TestBrowser();
      const login = await browser.get(other.app, `${origin}/login/corp`);
      await browser.get(other.app, `${origin}/callback/corp?${idp.authorize(login.headers.get('location')!, { sub: 'x' })}`);
      return (await browser.cookie(origin, other.config.cookies.tokenName))!.value;
    };
    const ask = (token: string) => gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } });
    const sameEverything = await tokenFrom({ PUBLIC_URL: GATEWAY });
    expect((await ask(sameEverything)).status, 'the control: same issuer and audience').toBe(200);
    const otherIssuer = await tokenFrom({ PUBLIC_URL: 'https://other.example.com' });
    expect(decodeJwt(otherIssuer)).toMatchObject({ iss: 'https://other.example.com', aud: 'downstream' });
    expect((await ask(otherIssuer)).status).toBe(401);
    const otherAudience = await tokenFrom({ PUBLIC_URL: GATEWAY, JWT_AUDIENCE: 'another-app' });
    expect(decodeJwt(otherAudience)).toMatchObject({ iss: GATEWAY, aud: 'another-app' });
    expect((await ask(otherAudience)).status).toBe(401);
  });
});

/** A token signed with the gateway's own key: the same claims as `token`, changed by `change`. */
function reSigned(token: string, change: Record<string, unknown>): Promise<string> {
  return new SignJWT({ ...(decodeJwt(token) as JWTPayload), ...change })
    .setProtectedHeader({ alg: 'ES256', kid: gateway.keys.signing.kid, typ: 'JWT' })
    .sign(gateway.keys.signing.key);
}

describe('a bearer token and a cookie together (one rule for /auth, portero/verify and the Python example)', () => {
  const auth = (headers: Record<string, string>) =>
    gateway.app.request(`${GATEWAY}/auth`, { headers: { accept: 'application/json', ...headers } });

  it("refuses a victim's revoked portero token as bearer beside the attacker's valid cookie", async () => {
    const victim = await signIn({ sub: 'victim', claims: {} as never });
    const attacker = await signIn({ sub: 'attacker', claims: {} as never });
    expect((await auth({ cookie: `auth_token=${attacker.token}` })).status, 'the control: the cookie alone').toBe(200);
    expect((await victim.browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST' })).status).toBe(302);
    const response = await auth({ cookie: `auth_token=${attacker.token}`, authorization: `Bearer ${victim.token}` });
    expect(response.status).toBe(401);
    expect(response.headers.get('x-auth-request-user')).toBeNull();
    expect(gateway.logs.lines.at(-1)).toMatchObject({ error: 'unauthenticated', reason: 'revoked' });
  });

  it('refuses two portero tokens of different people, or of two sessions of one person', async () => {
    const alice = await signIn({ sub: 'alice', claims: {} as never });
    const bob = await signIn({ sub: 'bob', claims: {} as never });
    const aliceAgain = await signIn({ sub: 'alice', claims: {} as never });
    for (const [cookie, bearer] of [
      [alice.token, bob.token],
      [bob.token, alice.token],
      [alice.token, aliceAgain.token],
    ]) {
      const response = await auth({ cookie: `auth_token=${cookie}`, authorization: `Bearer ${bearer}` });
      expect(response.status).toBe(401);
      expect(gateway.logs.lines.at(-1)).toMatchObject({ reason: 'tokens disagree' });
    }
    expect((await auth({ cookie: `auth_token=${alice.token}`, authorization: `Bearer ${alice.token}` })).status).toBe(200);
  });

  it("of portero's own tokens of one session, the bearer wins; a bearer that fails refuses the request", async () => {
    const { token } = await signIn();
    const later = await reSigned(token, { jti: 'another', iat: decodeJwt(token).iat! + 1 });
    const response = await auth({ cookie: `auth_token=${token}`, authorization: `Bearer ${later}` });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-auth-request-token')).toBe(later);
    // portero's signature, but another audience: it is portero's, and invalid, so it is not ignored.
    const otherAudience = await reSigned(token, { aud: 'another-app' });
    expect((await auth({ cookie: `auth_token=${token}`, authorization: `Bearer ${otherAudience}` })).status).toBe(401);
    // A junk cookie beside a valid portero bearer is ignored likewise.
    const bearerOnly = await auth({ cookie: 'auth_token=junk', authorization: `Bearer ${token}` });
    expect(bearerOnly.status).toBe(200);
    expect(bearerOnly.headers.get('x-auth-request-user')).toBe('corp:u-7');
  });

  it('answers 401, never a 500, for malformed claims in a token signed with its key', async () => {
    const { token } = await signIn();
    for (const change of [{ sub: { id: 1 } }, { sid: ['a', 'b'] }, { exp: 1e308 }, { preferred_username: 7 }]) {
      const malformed = await reSigned(token, change);
      const response = await auth({ authorization: `Bearer ${malformed}` });
      expect(response.status, JSON.stringify(change)).toBe(401);
      expect(await response.json()).toMatchObject({ error: 'unauthenticated' });
      // And /logout with it signs nothing out and does not break.
      const logout = await gateway.app.request(`${GATEWAY}/logout`, { method: 'POST', headers: { authorization: `Bearer ${malformed}` } });
      expect(logout.status).toBe(302);
    }
    expect(await gateway.store.get(`revoked:${decodeJwt(token).sid}`)).toBeUndefined();
  });
});

describe('cookie tossing', () => {
  it('under https without COOKIE_DOMAIN, the token cookie is __Host-auth_token: Secure, Path=/, no Domain', async () => {
    const hostOnly = await buildTestApp({ store: memoryStore(), env: { ...idp.env('corp'), PUBLIC_URL: 'https://auth.example.com' } });
    const browser = new TestBrowser();
    const login = await browser.get(hostOnly.app, 'https://auth.example.com/login/corp');
    const done = await browser.get(
      hostOnly.app,
      `https://auth.example.com/callback/corp?${idp.authorize(login.headers.get('location')!, { sub: 'u' })}`,
    );
    const line = setCookieLines(done).get('__Host-auth_token');
    expect(line).toBeDefined();
    expect(line).toContain('Secure');
    expect(line).toContain('Path=/');
    expect(line).not.toContain('Domain=');
    expect(setCookieLines(done).has('auth_token')).toBe(false);
    // A sibling subdomain's browser context never receives it; the gateway's own host does.
    expect(await browser.cookie('https://auth.example.com/', '__Host-auth_token')).toBeDefined();
    expect(await browser.cookie('https://app.example.com/', '__Host-auth_token')).toBeUndefined();
    const token = (await browser.cookie('https://auth.example.com/', '__Host-auth_token'))!.value;
    // A planted auth_token (what a sibling could set for .example.com) is not read at all.
    const planted = await hostOnly.app.request('https://auth.example.com/auth', { headers: { cookie: `auth_token=${token}` } });
    expect(planted.status).toBe(401);
    const own = await hostOnly.app.request('https://auth.example.com/auth', { headers: { cookie: `__Host-auth_token=${token}` } });
    expect(own.status).toBe(200);
  });

  it('with COOKIE_DOMAIN the token cookie stays auth_token, shared with the subdomains', async () => {
    expect(gateway.config.cookies.tokenName).toBe('auth_token');
    const { done } = await signIn();
    expect(setCookieLines(done).get('auth_token')).toMatch(/Domain=\.example\.com/);
  });

  it('treats a request with more than one token cookie as not signed in: /auth 401, / the sign-in page', async () => {
    const victim = await signIn();
    const attacker = await signIn({ sub: 'attacker', claims: {} as never });
    // What the browser sends once a sibling subdomain planted its own auth_token (for a narrower path, sent first).
    const cookie = `auth_token=${attacker.token}; auth_token=${victim.token}`;
    const refused = await gateway.app.request(`${GATEWAY}/auth`, { headers: { cookie, accept: 'application/json' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-auth-request-user')).toBeNull();
    expect(gateway.logs.lines.at(-1)).toMatchObject({ reason: 'several token cookies' });
    const page = await (await gateway.app.request(`${GATEWAY}/`, { headers: { cookie } })).text();
    expect(page).not.toContain('Signed in as');
    expect(page).toContain('href="/login/corp"');
    // The same token twice is two cookies too; and with one, the control, the person is signed in.
    expect(
      (await gateway.app.request(`${GATEWAY}/auth`, { headers: { cookie: `auth_token=${victim.token}; auth_token=${victim.token}` } }))
        .status,
    ).toBe(401);
    expect((await gateway.app.request(`${GATEWAY}/auth`, { headers: { cookie: `theme=dark; auth_token=${victim.token}` } })).status).toBe(
      200,
    );
    expect(await (await gateway.app.request(`${GATEWAY}/`, { headers: { cookie: `auth_token=${victim.token}` } })).text()).toContain(
      'Signed in as',
    );
  });

  it('reads the token cookie as sent: a percent-encoded copy is not the token portero wrote', async () => {
    const { token } = await signIn();
    const encoded = token.replace('.', '%2E');
    expect((await gateway.app.request(`${GATEWAY}/auth`, { headers: { cookie: `auth_token=${encoded}` } })).status).toBe(401);
    expect((await gateway.app.request(`${GATEWAY}/auth`, { headers: { cookie: `auth_token="${token}"` } })).status).toBe(401);
  });
});

describe('GET /userinfo', () => {
  it("returns the current token's claims as JSON", async () => {
    const { browser } = await signIn();
    const response = await browser.get(gateway.app, `${GATEWAY}/userinfo`, { accept: 'application/json' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      sub: 'corp:u-7',
      aud: 'downstream',
      iss: GATEWAY,
      provider: 'corp',
      email: 'lin@example.com',
    });
  });

  it('answers 401 JSON without a token', async () => {
    const response = await gateway.app.request(`${GATEWAY}/userinfo`, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'unauthenticated' });
  });
});

describe('/logout', () => {
  it('clears the cookie, revokes the session until the token would expire plus the clock skew, and returns to an allowed address', async () => {
    const { browser, token } = await signIn();
    const response = await browser.request(gateway.app, `${GATEWAY}/logout?return_to=https://app.example.com/bye`, { method: 'POST' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('https://app.example.com/bye');
    expect(setCookieLines(response).get('auth_token')).toMatch(/Max-Age=0.*Domain=\.example\.com|Domain=\.example\.com.*Max-Age=0/);
    expect(await browser.cookie(GATEWAY, 'auth_token')).toBeUndefined();

    // The token itself, replayed by a copy holder, no longer passes /auth.
    const replay = await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } });
    expect(replay.status).toBe(401);
    // The denial lasts as long as the token, plus CLOCK_SKEW (30 s): an instance whose clock runs
    // that far behind still takes the token as unexpired. After that it is expired everywhere.
    const { sid, exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid: string; exp: number };
    expect(JSON.parse((await gateway.store.get(`revoked:${sid}`))!)).toEqual({ v: 1, at: Math.floor(clock.now() / 1000) });
    clock.advance(exp - Math.floor(clock.now() / 1000) + 29);
    expect(await gateway.store.get(`revoked:${sid}`)).toBeDefined();
    expect((await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    clock.advance(1);
    expect(await gateway.store.get(`revoked:${sid}`)).toBeUndefined();
  });

  it('works by GET too, and refuses a return_to that is not allowed without signing anyone out', async () => {
    const { browser } = await signIn();
    const refused = await browser.get(gateway.app, `${GATEWAY}/logout?return_to=https://evil.example.net/`);
    expect(refused.status).toBe(400);
    expect((await browser.get(gateway.app, `${GATEWAY}/auth`)).status).toBe(200);
    const ok = await browser.get(gateway.app, `${GATEWAY}/logout`);
    expect(ok.headers.get('location')).toBe(`${GATEWAY}/`);
    expect((await browser.get(gateway.app, `${GATEWAY}/auth`)).status).toBe(401);
  });
});

describe('public pages', () => {
  it('the sign-in page lists providers and carries return_to; signed in, it shows the claims', async () => {
    const page = await (
      await gateway.app.request(`${GATEWAY}/?return_to=${encodeURIComponent('https://app.example.com/x?a=1&b=2')}`)
    ).text();
    expect(page).toContain('href="/login/corp?return_to=https%3A%2F%2Fapp.example.com%2Fx%3Fa%3D1%26b%3D2"');
    const { browser } = await signIn();
    const signedIn = await (await browser.get(gateway.app, `${GATEWAY}/`)).text();
    expect(signedIn).toContain('Signed in as lin');
    expect(signedIn).toContain('&quot;sub&quot;: &quot;corp:u-7&quot;');
  });

  it('escapes what the provider says about the user', async () => {
    const { browser } = await signIn({ sub: 'x', claims: { name: '<script>alert(1)</script>' } as never });
    const page = await (await browser.get(gateway.app, `${GATEWAY}/`)).text();
    expect(page).not.toContain('<script>alert(1)</script>');
    expect(page).toContain('&lt;script&gt;');
  });

  it('publishes the public signing keys and an OpenID configuration pointing at them', async () => {
    const jwks = (await (await gateway.app.request(`${GATEWAY}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: gateway.keys.signing.kid, alg: 'ES256', use: 'sig', kty: 'EC', crv: 'P-256' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const discovery = await (await gateway.app.request(`${GATEWAY}/.well-known/openid-configuration`)).json();
    expect(discovery).toMatchObject({ issuer: GATEWAY, jwks_uri: `${GATEWAY}/.well-known/jwks.json` });
  });

  it('serves every route under the path of PUBLIC_URL', async () => {
    const prefixed = await buildTestApp({ store: memoryStore(), env: { ...idp.env('corp'), PUBLIC_URL: 'https://example.com/sso' } });
    const page = await (await prefixed.app.request('https://example.com/sso/')).text();
    expect(page).toContain('href="/sso/login/corp"');
    const login = await prefixed.app.request('https://example.com/sso/login/corp');
    expect(new URL(login.headers.get('location')!).searchParams.get('redirect_uri')).toBe('https://example.com/sso/callback/corp');
    expect((await prefixed.app.request('https://example.com/sso/.well-known/jwks.json')).status).toBe(200);
    expect((await prefixed.app.request('https://example.com/login/corp')).status).toBe(404);
  });

  it('answers /healthz and /readyz at the root too, for a probe that knows the port and not the path (Docker HEALTHCHECK)', async () => {
    const prefixed = await buildTestApp({ store: memoryStore(), env: { ...idp.env('corp'), PUBLIC_URL: 'https://example.com/sso' } });
    for (const path of ['/healthz', '/sso/healthz'])
      expect(await (await prefixed.app.request(`http://127.0.0.1${path}`)).json()).toEqual({ status: 'ok' });
    for (const path of ['/readyz', '/sso/readyz'])
      expect(await (await prefixed.app.request(`http://127.0.0.1${path}`)).json()).toEqual({ status: 'ready' });
    // Only those: anything else outside the path is still a 404.
    expect((await prefixed.app.request('http://127.0.0.1/metrics')).status).toBe(404);
    // The root's /readyz says what the path's says when the store is down: the clean 503.
    const store = memoryStore();
    const down = new Proxy(store, {
      get(target, name) {
        if (name === 'ping') return async () => Promise.reject(new PorteroError(STORE_UNAVAILABLE, 'the store did not answer'));
        const value = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const unready = await buildTestApp({ store: down, env: { ...idp.env('corp'), PUBLIC_URL: 'https://example.com/sso' } });
    for (const path of ['/readyz', '/sso/readyz']) {
      const answer = await unready.app.request(`http://127.0.0.1${path}`);
      expect(answer.status).toBe(503);
      expect(await answer.json()).toMatchObject({ error: 'store_unavailable' });
    }
  });

  // Found by test/http/fuzz.test.ts: `/sso/%2e%2e/auth` is `/auth`, outside the base path, and was
  // answered without any of the middleware: no security headers, no request id, no log line.
  it('answers a request outside the path of PUBLIC_URL with a 404 that has the security headers, a request id and a log line', async () => {
    const prefixed = await buildTestApp({ store: memoryStore(), env: { ...idp.env('corp'), PUBLIC_URL: 'https://example.com/sso' } });
    for (const url of ['https://example.com/auth', 'https://example.com/sso/%2e%2e/auth', 'https://example.com/']) {
      const response = await prefixed.app.request(url);
      expect(response.status).toBe(404);
      expect(await response.text()).toContain('Page not found');
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('strict-transport-security')).toContain('max-age=');
      const requestId = response.headers.get('x-request-id');
      expect(requestId).toMatch(/^[\w-]{36}$/);
      expect(prefixed.logs.lines.at(-1)).toMatchObject({ request_id: requestId, status: 404, error: 'not_found' });
    }
  });

  it('unknown routes get a 404 page or JSON, not a stack trace', async () => {
    const html = await gateway.app.request(`${GATEWAY}/nope`);
    expect(html.status).toBe(404);
    expect(await html.text()).toContain('Page not found');
    const json = await gateway.app.request(`${GATEWAY}/nope`, { headers: { accept: 'application/json' } });
    expect(await json.json()).toMatchObject({ error: 'not_found' });
  });
});
