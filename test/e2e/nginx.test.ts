import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLocalJWKSet, decodeJwt, generateKeyPair, importJWK, type JSONWebKeySet, type JWK, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { network, TestBrowser } from '../support/browser.js';
import { startE2eStack, type E2eStack } from '../support/e2e-stack.js';
import { unescapeHtml } from '../support/html.js';
import { PORTERO_ADMIN_LOCATION, PORTERO_LOCATIONS } from '../support/nginx.js';
import { confirmSignOutAtOp, OP_ACCOUNTS, signInAtOp } from '../support/oidc-op.js';
import { REPO_ROOT, type GatewayProcess } from '../support/process.js';
import { pollUntil } from '../support/wait.js';

// portero as it runs in production: two gateway processes (NODE_ENV=production) sharing one
// Redis, one COOKIE_SECRET and one JWT_KEYS file, behind nginx with the repository's
// deploy/nginx/portero-locations.conf (and portero-admin-location.conf), signing people in at a
// real OpenID provider, and protecting an app with auth_request. Everything is reached over
// HTTP, as a browser does.

let stack: E2eStack;
let verifyKeys: ReturnType<typeof createLocalJWKSet>;

/** The process that served a response, and its log line for it, found by the response's X-Request-Id. */
async function servedBy(response: Response): Promise<{ gateway: GatewayProcess; line: Record<string, unknown> }> {
  const id = response.headers.get('x-request-id');
  if (!id) throw new Error(`no X-Request-Id on the ${response.status} response from ${response.url}`);
  const logged = () => {
    for (const gateway of stack.gateways) {
      const line = gateway.logLines().find((entry) => entry.request_id === id);
      if (line) return { gateway, line };
    }
    return undefined;
  };
  // The line is written before the response; it may still be in the pipe from the process.
  return pollUntil(logged, { what: `a process to log request ${id}`, timeoutMs: 3000, intervalMs: 20 }).catch((err: Error) => {
    throw new Error(`${err.message}. Logs:\n${stack.gateways.map((gateway) => gateway.logs()).join('\n---\n')}`);
  });
}

/** A person signs in at nginx: /login/corp, the provider's login and consent, back to /callback/corp. */
async function signIn(browser: TestBrowser, account: string, returnTo?: string) {
  const query = returnTo ? `?${new URLSearchParams({ return_to: returnTo })}` : '';
  const start = await browser.get(network, `${stack.url}/login/${stack.providerId}${query}`);
  expect(start.status, await start.clone().text()).toBe(302);
  const callbackUrl = await signInAtOp(browser, start.headers.get('location')!, account, OP_ACCOUNTS[account]!.password);
  expect(callbackUrl.origin + callbackUrl.pathname).toBe(`${stack.url}/callback/${stack.providerId}`);
  const callback = await browser.get(network, callbackUrl);
  return { start, callback };
}

/** The token cookie the browser holds for nginx's origin, verified against the keys portero publishes there. */
async function tokenClaims(browser: TestBrowser) {
  const cookie = await browser.cookie(stack.url, 'auth_token');
  if (!cookie) throw new Error('no auth_token cookie');
  const { payload } = await jwtVerify(cookie.value, verifyKeys, { issuer: stack.url, algorithms: ['ES256'], typ: 'JWT' });
  return payload;
}

/**
 * `token` as portero signed it `secondsAgo` earlier (same session, same claims, its own iat, exp
 * and jti), with the stack's JWT_KEYS signing key: what a browser holds after a while.
 */
async function signedEarlier(token: string, secondsAgo: number): Promise<string> {
  const [key] = (JSON.parse(await readFile(stack.jwtKeysFile, 'utf8')) as JSONWebKeySet).keys as (JWK & { kid: string })[];
  const iat = Math.floor(Date.now() / 1000) - secondsAgo;
  return new SignJWT({ ...decodeJwt(token), iat, exp: iat + 3600, jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: key!.kid, typ: 'JWT' })
    .sign(await importJWK(key!, 'ES256'));
}

/** How many `/auth` requests a process refused because the session was signed out. */
const revokedAuthLines = (gateway: GatewayProcess) =>
  gateway.logLines().filter((line) => line.path === '/auth' && line.status === 401 && line.reason === 'revoked').length;

const expectedClaims = (account: string) => ({
  iss: stack.url,
  sub: `${stack.providerId}:${account}`,
  provider: stack.providerId,
  email: OP_ACCOUNTS[account]!.email,
  email_verified: true,
  name: OP_ACCOUNTS[account]!.name,
  preferred_username: account,
  groups: [...OP_ACCOUNTS[account]!.groups],
});

/** Not signed in, `page` redirects to the sign-in page, which will return to the whole original URL. */
async function sentToSignIn(browser: TestBrowser, page: string): Promise<URL> {
  const denied = await browser.get(network, page);
  expect(denied.status).toBe(302);
  const signInPage = new URL(denied.headers.get('location')!, stack.url);
  expect(signInPage.origin + signInPage.pathname).toBe(`${stack.url}/`);
  expect(signInPage.searchParams.get('return_to')).toBe(page);
  return signInPage;
}

/** The sign-in page offers the provider and passes return_to on; signing in as alice lands on `page`. Her token. */
async function signInFrom(browser: TestBrowser, signInPage: URL, page: string): Promise<string> {
  const choose = await browser.get(network, signInPage);
  expect(choose.status).toBe(200);
  const href = (await choose.text()).match(new RegExp(`href="(/login/${stack.providerId}\\?[^"]*)"`))?.[1];
  expect(href).toBeDefined();
  const login = new URL(unescapeHtml(href!), stack.url);
  expect(login.searchParams.get('return_to')).toBe(page);
  const start = await browser.get(network, login);
  expect(start.status).toBe(302);
  const callback = await browser.get(
    network,
    await signInAtOp(browser, start.headers.get('location')!, 'alice', OP_ACCOUNTS.alice!.password),
  );
  expect(callback.status).toBe(302);
  expect(callback.headers.get('location')).toBe(page);
  return (await browser.cookie(stack.url, 'auth_token'))!.value;
}

/** Sign out through nginx: back to the app, which sends to sign in again. */
async function signOut(browser: TestBrowser): Promise<void> {
  const logout = await browser.get(network, `${stack.url}/logout?${new URLSearchParams({ return_to: `${stack.url}/app/` })}`);
  expect(logout.status).toBe(302);
  expect(await browser.cookie(stack.url, 'auth_token')).toBeUndefined();
  // On to sign out at the provider too (its end_session endpoint), which sends her back through /signed-out.
  const atProvider = new URL(logout.headers.get('location')!);
  expect(atProvider.origin).toBe(stack.op.issuer);
  const back = await confirmSignOutAtOp(browser, atProvider, stack.url);
  expect(`${back.origin}${back.pathname}`).toBe(`${stack.url}/signed-out`);
  const landed = await browser.get(network, back, undefined, { from: stack.op.issuer });
  expect(landed.headers.get('location')).toBe(`${stack.url}/app/`);
  const again = await browser.get(network, `${stack.url}/app/`);
  expect(again.status).toBe(302);
  expect(new URL(again.headers.get('location')!).searchParams.get('return_to')).toBe(`${stack.url}/app/`);
}

/** A copy of the signed-out token is refused too, by both processes (the sign-out is in Redis). */
async function expectRevokedEverywhere(token: string, page: string): Promise<void> {
  const revokedBefore = stack.gateways.map((gateway) => revokedAuthLines(gateway));
  for (let i = 0; i < 2; i++) {
    const replay = await fetch(page, { headers: { cookie: `auth_token=${token}` }, redirect: 'manual' });
    expect(replay.status).toBe(302);
    expect(new URL(replay.headers.get('location')!).searchParams.get('return_to')).toBe(page);
  }
  for (const [index, gateway] of stack.gateways.entries()) {
    await expect.poll(() => revokedAuthLines(gateway), { timeout: 3000 }).toBeGreaterThan(revokedBefore[index]!);
  }
}

describe('in production: two processes, nginx, Redis, an OpenID provider', () => {
  // One stack for the whole file: starting it takes a few seconds. Should it not start (nginx or
  // redis-server missing, say), every test fails with the reason, rather than being skipped.
  let startFailure: unknown;
  beforeAll(async () => {
    try {
      // Everyone is staff; alice is an admin too. The token carries the groups named here.
      stack = await startE2eStack({ env: { PROVIDER_CORP_ALLOWED_GROUPS: 'staff,admins' } });
      const jwks = await fetch(`${stack.url}/.well-known/jwks.json`);
      verifyKeys = createLocalJWKSet((await jwks.json()) as JSONWebKeySet);
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

  describe('two portero processes behind nginx, one Redis', () => {
    it('a login started on one process completes on the other', async () => {
      // nginx alternates between the two; a login is two requests to portero, so it splits.
      // Should anything else have reached portero in between, the next login splits.
      for (let attempt = 1; attempt <= 4; attempt++) {
        const browser = new TestBrowser();
        const { start, callback } = await signIn(browser, 'alice');
        expect(callback.status, await callback.clone().text()).toBe(302);
        expect(callback.headers.get('location')).toBe(`${stack.url}/`);
        expect(await tokenClaims(browser)).toMatchObject(expectedClaims('alice'));

        const started = await servedBy(start);
        const finished = await servedBy(callback);
        expect(started.line).toMatchObject({ method: 'GET', path: `/login/${stack.providerId}`, status: 302 });
        expect(finished.line).toMatchObject({ method: 'GET', path: `/callback/${stack.providerId}`, status: 302 });
        if (started.gateway === finished.gateway) continue;
        // Two processes, each naming itself (INSTANCE_NAME) in every one of its log lines.
        expect([started.line.instance, finished.line.instance].sort()).toEqual(['a', 'b']);
        for (const [index, gateway] of stack.gateways.entries()) {
          expect(new Set(gateway.logLines().map((line) => line.instance))).toEqual(new Set([['a', 'b'][index]]));
        }
        return;
      }
      throw new Error('four logins in a row were each served by one process only: nginx did not balance between the two');
    });

    it('signs people in 20 times in a row without one failure, the callbacks landing on both processes', async () => {
      const callbacksServedBy = new Map<string, number>();
      for (let n = 1; n <= 20; n++) {
        const account = n % 2 ? 'alice' : 'bob';
        const page = `${stack.url}/app/welcome?n=${n}`;
        const browser = new TestBrowser();
        const { callback } = await signIn(browser, account, page);
        expect(callback.status, `login ${n}: ${await callback.clone().text()}`).toBe(302);
        expect(callback.headers.get('location'), `login ${n}`).toBe(page);
        expect(await tokenClaims(browser), `login ${n}`).toMatchObject(expectedClaims(account));
        const instance = String((await servedBy(callback)).line.instance);
        callbacksServedBy.set(instance, (callbacksServedBy.get(instance) ?? 0) + 1);

        // Back where they started, now let through.
        const landed = await browser.get(network, page);
        expect(landed.status, `login ${n}`).toBe(200);
        expect(await landed.text(), `login ${n}`).toContain(`hello ${stack.providerId}:${account}`);
      }
      expect([...callbacksServedBy.keys()].sort(), JSON.stringify(Object.fromEntries(callbacksServedBy))).toEqual(['a', 'b']);
    });

    it("sends the client secret to the token endpoint by HTTP Basic, which the provider's discovery lists", async () => {
      const before = stack.op.tokenRequestAuth.length;
      const { callback } = await signIn(new TestBrowser(), 'bob');
      expect(callback.status, await callback.clone().text()).toBe(302);
      expect(stack.op.tokenRequestAuth.slice(before)).toEqual(['client_secret_basic']);
    });

    it('a wrong password at the provider signs no one in', async () => {
      const browser = new TestBrowser();
      const start = await browser.get(network, `${stack.url}/login/${stack.providerId}`);
      await expect(signInAtOp(browser, start.headers.get('location')!, 'alice', 'not-her-password')).rejects.toThrow(/refused the sign-in/);
      expect(await browser.cookie(stack.url, 'auth_token')).toBeUndefined();
    });
  });

  describe('an app behind nginx auth_request', () => {
    it('sends a stranger to sign in and back, lets them through with identity headers portero gave, and not after sign-out', async () => {
      const browser = new TestBrowser();
      const page = `${stack.url}/app/some/page?x=1&y=2`;
      const received = stack.app.requests.length;

      const signInPage = await sentToSignIn(browser, page);
      expect(stack.app.requests.length, 'the app saw a request nginx should have stopped').toBe(received);
      const token = await signInFrom(browser, signInPage, page);

      // Signed in, and trying to pass as someone else: /auth refuses the request (nginx answers its
      // 403), which never reaches the app.
      const forged = await browser.get(network, page, {
        'x-auth-request-user': 'corp:mallory',
        'x-auth-request-email': 'mallory@evil.example',
        'x-auth-request-groups': 'forged-group',
        'x-auth-request-token': 'forged',
      });
      expect(forged.status).toBe(403);
      expect(stack.app.requests.length, 'the app saw a request /auth refused').toBe(received);
      // As herself, she passes, and the app hears portero's word only.
      const allowed = await browser.get(network, page);
      expect(allowed.status).toBe(200);
      expect(await allowed.text()).toContain('hello corp:alice');
      expect(stack.app.requests.length).toBe(received + 1);
      const upstream = stack.app.requests.at(-1)!;
      expect(upstream.url).toBe('/app/some/page?x=1&y=2');
      expect(upstream.headers).toMatchObject({
        'x-auth-request-user': 'corp:alice',
        'x-auth-request-email': OP_ACCOUNTS.alice!.email,
        'x-auth-request-preferred-username': 'alice',
        'x-auth-request-groups': 'staff,admins',
        'x-auth-request-token': token,
      });
      expect(JSON.stringify(upstream.headers)).not.toMatch(/mallory|forged/);

      await signOut(browser);
      await expectRevokedEverywhere(token, page);
      expect(stack.app.requests.length, 'the app saw a request after sign-out').toBe(received + 1);
    });

    it("renews an expired token of a living session in passing: nginx hands portero's Set-Cookie to the browser, the app the new token", async () => {
      const browser = new TestBrowser();
      const page = `${stack.url}/app/renewal`;
      const token = await signInFrom(browser, await sentToSignIn(browser, page), page);
      // The same session's token as portero signed it an hour and a half ago, expired since: what a
      // browser holds once JWT_TTL has passed while its session lives on.
      const expired = await signedEarlier(token, 5400);
      const answer = await fetch(page, { headers: { cookie: `auth_token=${expired}` }, redirect: 'manual' });
      expect(answer.status).toBe(200);
      const line = answer.headers.getSetCookie().find((cookie) => cookie.startsWith('auth_token='));
      expect(line).toMatch(/^auth_token=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/);
      const renewed = line!.slice('auth_token='.length, line!.indexOf(';'));
      const { payload } = await jwtVerify(renewed, verifyKeys, { issuer: stack.url, algorithms: ['ES256'], typ: 'JWT' });
      expect(payload).toMatchObject({ sub: `${stack.providerId}:alice`, sid: decodeJwt(token).sid });
      expect(payload.exp).toBeGreaterThan(Date.now() / 1000 + 3000);
      expect(stack.app.requests.at(-1)!.headers['x-auth-request-token']).toBe(renewed);
      // The renewed token passes as it is, and gets no new one (it is fresh).
      const next = await fetch(page, { headers: { cookie: `auth_token=${renewed}` }, redirect: 'manual' });
      expect(next.status).toBe(200);
      expect(next.headers.getSetCookie()).toEqual([]);
      // Once the session is signed out, its expired token renews no more.
      await browser.jar.setCookie(`auth_token=${renewed}; Path=/`, stack.url);
      await browser.get(network, `${stack.url}/logout`);
      expect((await fetch(page, { headers: { cookie: `auth_token=${expired}` }, redirect: 'manual' })).status).toBe(302);
    });

    it('renews a token past half its life before it expires, in passing: the browser gets the new cookie through nginx, the app the new token', async () => {
      const browser = new TestBrowser();
      const page = `${stack.url}/app/renewal-early`;
      const token = await signInFrom(browser, await sentToSignIn(browser, page), page);
      // Forty of its sixty minutes gone: valid still, and due for renewal.
      const ageing = await signedEarlier(token, 2400);
      const answer = await fetch(page, { headers: { cookie: `auth_token=${ageing}` }, redirect: 'manual' });
      expect(answer.status).toBe(200);
      const line = answer.headers.getSetCookie().find((cookie) => cookie.startsWith('auth_token='));
      expect(line).toMatch(/^auth_token=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/);
      const renewed = line!.slice('auth_token='.length, line!.indexOf(';'));
      expect(renewed).not.toBe(ageing);
      const { payload } = await jwtVerify(renewed, verifyKeys, { issuer: stack.url, algorithms: ['ES256'], typ: 'JWT' });
      expect(payload).toMatchObject({ sub: `${stack.providerId}:alice`, sid: decodeJwt(token).sid });
      expect(payload.exp).toBeGreaterThan(Date.now() / 1000 + 3000);
      expect(stack.app.requests.at(-1)!.headers['x-auth-request-token']).toBe(renewed);
    });

    it("hands the app portero's token as Authorization, never the client's own; refuses one's cookie beside another's portero token", async () => {
      const page = `${stack.url}/app/mixed`;
      const attacker = new TestBrowser();
      expect((await signIn(attacker, 'alice')).callback.status).toBe(302);
      const attackerToken = (await attacker.cookie(stack.url, 'auth_token'))!.value;
      const victim = new TestBrowser();
      expect((await signIn(victim, 'bob')).callback.status).toBe(302);
      const victimToken = (await victim.cookie(stack.url, 'auth_token'))!.value;

      // An app's own bearer token (here a JWT naming bob, signed by a key portero does not have) is
      // ignored beside alice's cookie, and the app never sees it: it hears portero's token.
      const { privateKey } = await generateKeyPair('ES256');
      const appsOwn = await new SignJWT({ iss: stack.url, sub: `${stack.providerId}:bob` })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
        .sign(privateKey);
      const allowed = await attacker.get(network, page, { authorization: `Bearer ${appsOwn}` });
      expect(allowed.status).toBe(200);
      const upstream = stack.app.requests.at(-1)!;
      expect(upstream.url).toBe('/app/mixed');
      expect(upstream.headers).toMatchObject({
        'x-auth-request-user': `${stack.providerId}:alice`,
        'x-auth-request-token': attackerToken,
        authorization: `Bearer ${attackerToken}`,
      });

      const received = stack.app.requests.length;
      // bob's valid token beside alice's cookie: two people, refused.
      const disagree = await attacker.get(network, page, { authorization: `Bearer ${victimToken}` });
      expect(disagree.status).toBe(302);
      expect(new URL(disagree.headers.get('location')!).searchParams.get('return_to')).toBe(page);
      // bob signs out; his revoked token beside alice's cookie is refused too (it once passed, and
      // the app behind saw bob).
      await victim.get(network, `${stack.url}/logout`);
      expect(await victim.cookie(stack.url, 'auth_token')).toBeUndefined();
      const revoked = await attacker.get(network, page, { authorization: `Bearer ${victimToken}` });
      expect(revoked.status).toBe(302);
      expect(stack.app.requests.length, 'the app saw a request nginx should have stopped').toBe(received);
      // The control: alice's cookie alone still passes.
      expect((await attacker.get(network, page)).status).toBe(200);
    });
  });

  describe('an app for some of them: /admin/ with /auth?allowed_groups=admins (portero-admin-location.conf)', () => {
    it('lets a member through, with her groups; refuses a signed-in non-member with 403, not a sign-in', async () => {
      const alice = new TestBrowser();
      expect((await signIn(alice, 'alice')).callback.status).toBe(302);
      const received = stack.app.requests.length;
      const allowed = await alice.get(network, `${stack.url}/admin/users?page=2`);
      expect(allowed.status).toBe(200);
      expect(await allowed.text()).toContain(`hello ${stack.providerId}:alice`);
      expect(stack.app.requests.length).toBe(received + 1);
      expect(stack.app.requests.at(-1)).toMatchObject({
        url: '/admin/users?page=2',
        headers: {
          'x-auth-request-user': `${stack.providerId}:alice`,
          'x-auth-request-preferred-username': 'alice',
          'x-auth-request-groups': 'staff,admins',
        },
      });

      const bob = new TestBrowser();
      expect((await signIn(bob, 'bob')).callback.status).toBe(302);
      const refusals = () =>
        stack.gateways.flatMap((gateway) => gateway.logLines()).filter((entry) => entry.path === '/auth' && entry.status === 403);
      // Claiming the group himself gets him nowhere: /auth refuses a request that names its own groups.
      const claimed = await bob.get(network, `${stack.url}/admin/users`, { 'x-auth-request-groups': 'admins' });
      expect(claimed.status).toBe(403);
      await expect
        .poll(refusals, { timeout: 3000 })
        .toContainEqual(expect.objectContaining({ error: 'identity_header_sent', header: 'x-auth-request-groups' }));
      // As himself, portero reads his token: not a member.
      const refused = await bob.get(network, `${stack.url}/admin/users`);
      expect(refused.status).toBe(403);
      expect(refused.headers.get('location')).toBeNull();
      expect(stack.app.requests.length, 'the app saw a request nginx should have stopped').toBe(received + 1);
      await expect
        .poll(refusals, { timeout: 3000 })
        .toContainEqual(expect.objectContaining({ error: 'not_allowed', rule: '/auth ALLOWED_GROUPS', reason: 'in no allowed group' }));

      // bob is still signed in for the app everyone may use, with only his own groups.
      expect((await bob.get(network, `${stack.url}/app/`)).status).toBe(200);
      expect(stack.app.requests.at(-1)?.headers['x-auth-request-groups']).toBe('staff');
    });

    it('refuses a member who sends an identity header herself, the user name included; nginx drops X_Auth_Request_User first', async () => {
      const alice = new TestBrowser();
      expect((await signIn(alice, 'alice')).callback.status).toBe(302);
      const received = stack.app.requests.length;
      const forged = [
        ['X-Auth-Request-User', 'corp:mallory'],
        ['x-auth-request-email', 'mallory@evil.example'],
        ['X-AUTH-REQUEST-PREFERRED-USERNAME', 'mallory'],
        ['x-auth-request-groups', 'forged-group'],
        ['X-Auth-Request-Token', 'forged'],
      ] as const;
      for (const [name, value] of forged) {
        expect((await alice.get(network, `${stack.url}/admin/users`, { [name]: value })).status, name).toBe(403);
      }
      expect(stack.app.requests.length, 'the app saw a request /auth refused').toBe(received);
      const refused = () =>
        stack.gateways.flatMap((gateway) => gateway.logLines()).filter((line) => line.event === 'identity_header_refused');
      await expect
        .poll(() => refused().map((line) => line.header), { timeout: 3000 })
        .toEqual(expect.arrayContaining(forged.map(([name]) => name.toLowerCase())));
      expect(JSON.stringify(refused())).not.toMatch(/mallory|forged/);

      // A name with an underscore never reaches portero nor the app: nginx drops it (underscores_in_headers off).
      expect((await alice.get(network, `${stack.url}/admin/users`, { x_auth_request_user: 'corp:mallory' })).status).toBe(200);
      const { headers } = stack.app.requests.at(-1)!;
      expect(headers['x-auth-request-user']).toBe(`${stack.providerId}:alice`);
      expect(JSON.stringify(headers)).not.toMatch(/mallory|forged/);
    });

    it('sends a stranger to sign in and back to /admin/', async () => {
      const browser = new TestBrowser();
      const page = `${stack.url}/admin/settings?tab=keys`;
      const received = stack.app.requests.length;
      const signInPage = await sentToSignIn(browser, page);
      expect(stack.app.requests.length).toBe(received);
      await signInFrom(browser, signInPage, page);
      expect((await browser.get(network, page)).status).toBe(200);
    });
  });
});

describe('README.md', () => {
  it.each([
    ['deploy/nginx/portero-locations.conf', PORTERO_LOCATIONS],
    ['deploy/nginx/portero-admin-location.conf', PORTERO_ADMIN_LOCATION],
  ])('shows %s, which these tests run, verbatim', async (name, file) => {
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    const locations = await readFile(file, 'utf8');
    const block = `\`\`\`nginx\n${locations}\`\`\``;
    expect(readme.includes(block), `README.md must show ${name} verbatim, in a block:\n${block}`).toBe(true);
  });
});
