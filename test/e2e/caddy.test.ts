import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PORTERO_CADDYFILE, PORTERO_REDIRECT_CADDYFILE, startCaddy } from '../support/caddy.js';
import { network, TestBrowser } from '../support/browser.js';
import { startE2eStack, type E2eStack } from '../support/e2e-stack.js';
import { startedOnce } from '../support/started-once.js';
import { OP_ACCOUNTS, signInAtOp } from '../support/oidc-op.js';
import { REPO_ROOT } from '../support/process.js';

// portero behind Caddy (Debian's 2.6), as deploy/caddy/Caddyfile configures it: two gateway
// processes in production behind Caddy's reverse_proxy, the app behind forward_auth at /app/,
// and /admin/ for the group admins (/auth?allowed_groups=admins). Caddy passes a refusal of the
// auth server to the browser as it is; the Caddyfile turns a 401 into portero's sign-in page.
// Then deploy/caddy/Caddyfile.redirect, which asks /auth/redirect for that 302 instead.

let stack: E2eStack;

/** A person signs in through Caddy; their browser then holds the token cookie for Caddy's origin. */
async function signIn(browser: TestBrowser, account: string, returnTo?: string, on: E2eStack = stack) {
  const query = returnTo ? `?${new URLSearchParams({ return_to: returnTo })}` : '';
  const start = await browser.get(network, `${on.url}/login/${on.providerId}${query}`);
  expect(start.status, await start.clone().text()).toBe(302);
  const callback = await browser.get(
    network,
    await signInAtOp(browser, start.headers.get('location')!, account, OP_ACCOUNTS[account]!.password),
  );
  expect(callback.status, await callback.clone().text()).toBe(302);
  return callback;
}

/** Not signed in, `page` redirects to portero's sign-in page, which will return to it. */
async function expectSentToSignIn(browser: TestBrowser, page: string, on: E2eStack = stack): Promise<void> {
  const received = on.app.requests.length;
  const denied = await browser.get(network, page);
  expect(denied.status).toBe(302);
  const signInPage = new URL(denied.headers.get('location')!, on.url);
  expect(signInPage.origin + signInPage.pathname).toBe(`${on.url}/`);
  expect(signInPage.searchParams.get('return_to')).toBe(page);
  expect(on.app.requests.length, 'the app saw a request Caddy should have stopped').toBe(received);
}

/** Headers a client sends to pass as someone else. */
const FORGED = {
  'x-auth-request-user': 'corp:mallory',
  'x-auth-request-email': 'mallory@evil.example',
  'x-auth-request-groups': 'admins',
  'x-auth-request-preferred-username': 'mallory',
  'x-auth-request-token': 'forged',
  'x-auth-request-role': 'root',
};

describe('behind Caddy: forward_auth, two processes, Redis, an OpenID provider', () => {
  let startFailure: unknown;
  beforeAll(async () => {
    try {
      stack = await startE2eStack({ proxy: 'caddy', env: { PROVIDER_CORP_ALLOWED_GROUPS: 'staff,admins' } });
    } catch (err) {
      startFailure = err;
    }
  }, 60_000);
  beforeEach(() => {
    if (startFailure) throw startFailure;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('sends a stranger to sign in and back, then lets them through with the identity headers portero gave, none of their own', async () => {
    const browser = new TestBrowser();
    const page = `${stack.url}/app/some/page?x=1&y=2`;
    await expectSentToSignIn(browser, page);
    expect((await signIn(browser, 'alice', page)).headers.get('location')).toBe(page);
    const token = (await browser.cookie(stack.url, 'auth_token'))!.value;

    const allowed = await browser.get(network, page, { ...FORGED, authorization: 'Bearer the-clients-own' });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toContain(`hello ${stack.providerId}:alice`);
    const upstream = stack.app.requests.at(-1)!;
    expect(upstream.url).toBe('/app/some/page?x=1&y=2');
    expect(upstream.headers).toMatchObject({
      'x-auth-request-user': `${stack.providerId}:alice`,
      'x-auth-request-email': OP_ACCOUNTS.alice!.email,
      'x-auth-request-preferred-username': 'alice',
      'x-auth-request-groups': 'staff,admins',
      'x-auth-request-token': token,
      authorization: `Bearer ${token}`,
    });
    expect(upstream.headers).not.toHaveProperty('x-auth-request-role');
    expect(JSON.stringify(upstream.headers)).not.toMatch(/mallory|forged|root|clients-own/);
  });

  it("passes an identity header portero leaves empty as empty: never the client's, nor Caddy's placeholder", async () => {
    const browser = new TestBrowser();
    await signIn(browser, 'carol');
    expect((await browser.get(network, `${stack.url}/app/`, FORGED)).status).toBe(200);
    const { headers } = stack.app.requests.at(-1)!;
    expect(headers['x-auth-request-user']).toBe(`${stack.providerId}:carol`);
    // Her address is not verified: portero names none, and Caddy sends the empty value it got.
    expect(headers['x-auth-request-email'] ?? '').toBe('');
    expect(JSON.stringify(headers)).not.toMatch(/mallory|forged|\{http\./);
  });

  it('drops what a client sends as X_Auth_Request_User (underscores), which CGI, PHP and WSGI read as X-Auth-Request-User', async () => {
    const browser = new TestBrowser();
    await signIn(browser, 'alice');
    const smuggled = {
      x_auth_request_user: 'corp:mallory',
      'x-auth_request-email': 'mallory@evil.example',
      x_auth_request_groups: 'admins',
      'x-auth-request_preferred_username': 'mallory',
    };
    expect((await browser.get(network, `${stack.url}/app/`, smuggled)).status).toBe(200);
    const { headers } = stack.app.requests.at(-1)!;
    expect(headers['x-auth-request-user']).toBe(`${stack.providerId}:alice`);
    expect(JSON.stringify(headers)).not.toMatch(/mallory/);
  });

  it("with the Caddyfile's first lines forgotten, /auth itself refuses a client's identity header, in each spelling Caddy 2.6 passes on", async () => {
    // deploy/caddy/Caddyfile without its `request_header -X-Auth-Request-*` and `-*_*`: Caddy then
    // hands the client's headers to forward_auth (and would to the app), underscores and all.
    const full = await readFile(PORTERO_CADDYFILE, 'utf8');
    const forgotten = full.replace(/^\trequest_header -.*\n/gm, '');
    expect(forgotten).not.toContain('request_header -');
    const caddy = await startCaddy({
      portero: stack.gateways.map((gateway) => `127.0.0.1:${gateway.port}`),
      app: stack.app.address,
      caddyfile: { text: forgotten },
    });
    try {
      const browser = new TestBrowser();
      await signIn(browser, 'alice');
      const received = stack.app.requests.length;
      for (const [name, value] of [
        ['X-Auth-Request-User', 'corp:mallory'],
        ['x-auth-request-groups', 'admins'],
        ['X_Auth_Request_User', 'corp:mallory'],
        ['x-auth_request-email', 'mallory@evil.example'],
        ['X-Auth-Request-Token', 'forged'],
      ] as const) {
        const refused = await browser.get(network, `${caddy.url}/app/`, { [name]: value });
        expect(refused.status, name).toBe(403);
        expect(await refused.text(), name).toContain('This request named who sent it');
      }
      expect(stack.app.requests.length, 'the app saw a request /auth refused').toBe(received);
      // Each logged as a security event, by the header's name as it reached portero.
      const refused = () =>
        stack.gateways.flatMap((gateway) => gateway.logLines()).filter((line) => line.event === 'identity_header_refused');
      await expect
        .poll(() => refused().map((line) => line.header), { timeout: 3000 })
        .toEqual(expect.arrayContaining(['x-auth-request-user', 'x-auth-request-groups', 'x_auth_request_user', 'x-auth_request-email']));
      expect(JSON.stringify(refused())).not.toMatch(/mallory|forged/);
      // The same browser without them passes, as portero says.
      expect((await browser.get(network, `${caddy.url}/app/`)).status).toBe(200);
      expect(stack.app.requests.at(-1)?.headers['x-auth-request-user']).toBe(`${stack.providerId}:alice`);
    } finally {
      await caddy.stop();
    }
  });

  describe('/admin/, for the group admins (uri /auth?allowed_groups=admins)', () => {
    it("lets a member through; shows a signed-in non-member portero's 403 page, not the sign-in page", async () => {
      const alice = new TestBrowser();
      await signIn(alice, 'alice');
      const allowed = await alice.get(network, `${stack.url}/admin/users`);
      expect(allowed.status).toBe(200);
      expect(stack.app.requests.at(-1)).toMatchObject({
        url: '/admin/users',
        headers: {
          'x-auth-request-user': `${stack.providerId}:alice`,
          'x-auth-request-preferred-username': 'alice',
          'x-auth-request-groups': 'staff,admins',
        },
      });

      const bob = new TestBrowser();
      await signIn(bob, 'bob');
      const received = stack.app.requests.length;
      const refused = await bob.get(network, `${stack.url}/admin/users`, { 'x-auth-request-groups': 'admins' });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('location')).toBeNull();
      const page = await refused.text();
      expect(page).toContain('This account may not sign in here');
      expect(page).toContain(OP_ACCOUNTS.bob!.email);
      expect(stack.app.requests.length, 'the app saw a request Caddy should have stopped').toBe(received);
      // Still signed in for the app everyone may use.
      expect((await bob.get(network, `${stack.url}/app/`)).status).toBe(200);
    });

    it('sends a stranger to sign in', async () => {
      await expectSentToSignIn(new TestBrowser(), `${stack.url}/admin/settings?tab=keys`);
    });
  });
});

describe('behind Caddy in redirect mode: forward_auth asks /auth/redirect (deploy/caddy/Caddyfile.redirect)', () => {
  const started = startedOnce(
    () =>
      startE2eStack({
        proxy: 'caddy',
        caddyfile: { path: PORTERO_REDIRECT_CADDYFILE },
        env: { PROVIDER_CORP_ALLOWED_GROUPS: 'staff,admins' },
      }),
    (running) => running.stop(),
  );
  let redirecting: E2eStack;
  beforeEach(() => {
    redirecting = started.value;
  });

  it("sends a stranger to sign in with portero's own 302, no handle_response, and back; then lets them through with portero's headers only", async () => {
    const browser = new TestBrowser();
    const page = `${redirecting.url}/app/some/page?x=1&y=2`;
    await expectSentToSignIn(browser, page, redirecting);
    const redirects = () =>
      redirecting.gateways
        .flatMap((gateway) => gateway.logLines())
        .filter((line) => line.route === '/auth/redirect' && line.status === 302);
    await expect.poll(() => redirects().length, { timeout: 3000 }).toBeGreaterThan(0);

    expect((await signIn(browser, 'alice', page, redirecting)).headers.get('location')).toBe(page);
    const token = (await browser.cookie(redirecting.url, 'auth_token'))!.value;
    const allowed = await browser.get(network, page, FORGED);
    expect(allowed.status).toBe(200);
    expect(redirecting.app.requests.at(-1)).toMatchObject({
      url: '/app/some/page?x=1&y=2',
      headers: {
        'x-auth-request-user': `${redirecting.providerId}:alice`,
        'x-auth-request-groups': 'staff,admins',
        'x-auth-request-token': token,
        authorization: `Bearer ${token}`,
      },
    });
    expect(JSON.stringify(redirecting.app.requests.at(-1)?.headers)).not.toMatch(/mallory|forged|root/);
  });

  it("/admin/ (uri /auth/redirect?allowed_groups=admins): a member passes, a non-member gets portero's 403 page, a stranger the sign-in page", async () => {
    const alice = new TestBrowser();
    await signIn(alice, 'alice', undefined, redirecting);
    expect((await alice.get(network, `${redirecting.url}/admin/users`)).status).toBe(200);

    const bob = new TestBrowser();
    await signIn(bob, 'bob', undefined, redirecting);
    const received = redirecting.app.requests.length;
    const refused = await bob.get(network, `${redirecting.url}/admin/users`);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('location')).toBeNull();
    expect(await refused.text()).toContain('This account may not sign in here');
    expect(redirecting.app.requests.length, 'the app saw a request Caddy should have stopped').toBe(received);

    await expectSentToSignIn(new TestBrowser(), `${redirecting.url}/admin/settings?tab=keys`, redirecting);
  });
});

describe('README.md and docs/proxies.md', () => {
  it.each([
    ['README.md', 'deploy/caddy/Caddyfile', PORTERO_CADDYFILE],
    ['docs/proxies.md', 'deploy/caddy/Caddyfile.redirect', PORTERO_REDIRECT_CADDYFILE],
  ])('%s shows %s, which these tests run, verbatim', async (doc, name, file) => {
    const text = await readFile(join(REPO_ROOT, doc), 'utf8');
    const block = `\`\`\`caddy\n${await readFile(file, 'utf8')}\`\`\``;
    expect(text.includes(block), `${doc} must show ${name} verbatim, in a block:\n${block}`).toBe(true);
  });
});
