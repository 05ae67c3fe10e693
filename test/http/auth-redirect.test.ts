import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, fromPeer, memoryStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { family, parseSamples } from '../support/prometheus.js';

// GET /auth/redirect: the opt-in 302 mode of forward auth, for Traefik and Caddy, which hand the
// auth server's refusal to the browser as it is. A request that is not signed in gets the 302 to
// the sign-in page that /auth's 401 names in X-Auth-Request-Redirect; everything else is /auth's.

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const GATEWAY = 'https://auth.example.com';
const PROXY = '10.0.0.2';
/** What Traefik's forwardAuth (and Caddy's forward_auth) say of the request they ask about. */
const TRAEFIK = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'wiki.example.com', 'x-forwarded-uri': '/page?id=7&q=a%20b' };
const PAGE = 'https://wiki.example.com/page?id=7&q=a%20b';

let gateway: TestApp;
let ops: string;
let admin: string;

async function signIn(sub: string, groups: string[]): Promise<string> {
  const browser = new TestBrowser();
  const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
  const claims = { email: `${sub}@corp.example`, email_verified: true, preferred_username: sub, groups };
  const done = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(login.headers.get('location')!, { sub, claims })}`);
  expect(done.status).toBe(302);
  return (await browser.cookie(GATEWAY, '__Host-auth_token'))!.value;
}

beforeAll(async () => {
  gateway = await buildTestApp({
    store: memoryStore(),
    env: {
      ...idp.env('corp'),
      PUBLIC_URL: GATEWAY,
      TRUSTED_PROXIES: '10.0.0.0/8',
      ALLOWED_REDIRECTS: 'https://*.example.com',
      PROVIDER_CORP_ALLOWED_GROUPS: 'admins,ops',
    },
  });
  ops = await signIn('olga', ['ops']);
  admin = await signIn('ada', ['admins']);
});

const ask = (path: string, headers: Record<string, string> = {}) =>
  gateway.app.request(`${GATEWAY}${path}`, { headers: { ...TRAEFIK, ...headers } }, fromPeer(PROXY));
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('GET /auth/redirect', () => {
  it('sends a request that is not signed in to the sign-in page that /auth names, returning to the page asked for', async () => {
    const refused = await ask('/auth');
    expect(refused.status).toBe(401);
    const redirect = await ask('/auth/redirect');
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe(refused.headers.get('x-auth-request-redirect'));
    const signIn = new URL(redirect.headers.get('location')!);
    expect(signIn.origin + signIn.pathname).toBe(`${GATEWAY}/`);
    expect(signIn.searchParams.get('return_to')).toBe(PAGE);
    expect(redirect.headers.get('cache-control')).toBe('no-store');
    expect(gateway.logs.lines.at(-1)).toMatchObject({ route: '/auth/redirect', status: 302, reason: 'no token' });
  });

  it('sends an expired, tampered or unknown token to sign in as well', async () => {
    const [header, payload] = ops.split('.');
    for (const token of [`${header}.${payload}.AAAA`, 'not-a-token']) {
      const redirect = await ask('/auth/redirect', bearer(token));
      expect(redirect.status, token).toBe(302);
      expect(new URL(redirect.headers.get('location')!).searchParams.get('return_to')).toBe(PAGE);
    }
  });

  it('answers a signed-in request as /auth does: 200 with the same identity headers, and no Location', async () => {
    const auth = await ask('/auth', bearer(ops));
    const redirect = await ask('/auth/redirect', bearer(ops));
    expect(redirect.status).toBe(200);
    expect(redirect.headers.get('location')).toBeNull();
    const identity = (response: Response) => [...response.headers].filter(([name]) => name.startsWith('x-auth-request-'));
    expect(identity(redirect)).toEqual(identity(auth));
    expect(redirect.headers.get('x-auth-request-user')).toBe('corp:olga');
  });

  it("takes the location's rules: a member passes, a signed-in non-member gets 403 (no sign-in), a stranger the sign-in page", async () => {
    expect((await ask('/auth/redirect?allowed_groups=admins', bearer(admin))).status).toBe(200);
    const refused = await ask('/auth/redirect?allowed_groups=admins', { ...bearer(ops), accept: 'application/json' });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('location')).toBeNull();
    expect(await refused.json()).toMatchObject({ error: 'not_allowed' });
    const stranger = await ask('/auth/redirect?allowed_groups=admins');
    expect(stranger.status).toBe(302);
    expect(new URL(stranger.headers.get('location')!).searchParams.get('return_to')).toBe(PAGE);
    // A rule misspelt in the proxy's configuration is the operator's 400, signed in or not.
    expect((await ask('/auth/redirect?allowed_group=admins', bearer(admin))).status).toBe(400);
  });
});

describe('portero_auth_requests_total', () => {
  it('counts /auth/redirect’s answers as /auth’s: its 302 to sign in as unauthenticated', async () => {
    const results = async () => family(parseSamples((await gateway.metrics.scrape()).body), 'portero_auth_requests_total');
    const before = await results();
    await ask('/auth/redirect', bearer(ops));
    await ask('/auth/redirect');
    await ask('/auth/redirect');
    await ask('/auth/redirect?allowed_groups=admins', bearer(ops));
    await ask('/auth/redirect?allowed_group=admins', bearer(ops));
    const after = await results();
    const counted = Object.fromEntries(Object.entries(after).map(([series, value]) => [series, value - (before[series] ?? 0)]));
    expect(counted).toEqual({ 'result=ok': 1, 'result=unauthenticated': 2, 'result=forbidden': 1, 'result=error': 1 });
  });
});

describe('GET /auth', () => {
  it('keeps its 401 for what looks like a browser navigation: nginx subrequests carry the Sec-Fetch-* of the page', async () => {
    const navigation = { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'sec-fetch-site': 'none', accept: 'text/html' };
    const response = await ask('/auth', navigation);
    expect(response.status).toBe(401);
    expect(response.headers.get('location')).toBeNull();
    expect(new URL(response.headers.get('x-auth-request-redirect')!).searchParams.get('return_to')).toBe(PAGE);
  });
});
