import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { network, TestBrowser } from '../support/browser.js';
import { OP_ACCOUNTS, parseForm, signInAtOp } from '../support/oidc-op.js';
import { APP_ONE_SECRET, basic, type PorteroOpStack, signInToApp, startPorteroOp } from '../support/portero-op.js';
import { startRedisServer } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';

// What a red-team review of the OpenID Provider found: each case an attacker's request or a
// user's path through oidc-provider's own flows that the provider answered wrongly.

let stack: PorteroOpStack;
beforeAll(async () => {
  stack = await startPorteroOp();
});
afterAll(() => stack.close());

/** One request written on the socket as given (a request target no fetch would send), its whole answer as text. */
function rawRequest(publicUrl: string, head: string): Promise<string> {
  const { port } = new URL(publicUrl);
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(`${head}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** A token request with a code that is none: past client authentication, the provider answers invalid_grant (400). */
const tokenRequest = (publicUrl: string, from: string, authorization: string | undefined, form: Record<string, string> = {}) =>
  fetch(`${publicUrl}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-forwarded-for': from,
      ...(authorization ? { authorization } : {}),
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: 'x', ...form }),
  });

/** An authorization request of app `id` (confidential: no PKCE needed), not followed. */
function authorizeUrl(id: 'one' | 'two', extra: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    client_id: id,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: `${stack.appsUrl}/${id}/callback`,
    state: 'some-state',
    ...extra,
  });
  return `${stack.publicUrl}/authorize?${query}`;
}

/** The logout tokens the apps were sent for portero session `sid`. */
const logoutsFor = (sid: string) => stack.logoutTokens.filter((entry) => decodeJwt(entry.token).sid === sid);

/** The upstream provider forgets the browser (its cookies; it shares 127.0.0.1 with portero), so another account can sign in there. */
async function forgetUpstreamSession(browser: TestBrowser): Promise<void> {
  for (const cookie of await browser.cookies(stack.upstream.issuer)) {
    if (cookie.key.startsWith('_session'))
      await browser.jar.setCookie(`${cookie.key}=; Max-Age=0; Path=${cookie.path}`, stack.upstream.issuer);
  }
}

describe('the OpenID Provider under attack', () => {
  it('counts RATE_LIMIT_TOKEN per app only for the app itself: naming an app without its secret uses up no budget of its', async () => {
    const limited = await startPorteroOp({ RATE_LIMIT_TOKEN: '3/60s', TRUSTED_PROXIES: '127.0.0.1' });
    try {
      const guesses: number[] = [];
      for (let i = 0; i < 4; i++) guesses.push((await tokenRequest(limited.publicUrl, '203.0.113.9', basic('one', 'guessed'))).status);
      // Guessing the confidential app's secret is counted at the guesser's address.
      expect(guesses).toEqual([401, 401, 401, 429]);
      // Anyone may name the public app: its requests are counted by address, as they come from its users' devices.
      for (let i = 0; i < 3; i++)
        expect((await tokenRequest(limited.publicUrl, '203.0.113.10', undefined, { client_id: 'two' })).status).toBe(400);
      // The apps are untouched: the confidential app's servers with its secret, the public app's users from their own addresses.
      expect((await tokenRequest(limited.publicUrl, '198.51.100.1', basic('one', APP_ONE_SECRET))).status).toBe(400);
      expect((await tokenRequest(limited.publicUrl, '198.51.100.2', undefined, { client_id: 'two' })).status).toBe(400);
    } finally {
      await limited.close();
    }
  });

  it('names only PUBLIC_URL in its metadata for a request in absolute form (GET http://evil.example/...), as a cache would keep it', async () => {
    const host = new URL(stack.publicUrl).host;
    const answer = await rawRequest(stack.publicUrl, `GET http://evil.example/.well-known/openid-configuration HTTP/1.1\r\nHost: ${host}`);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const metadata = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
    expect(metadata.token_endpoint).toBe(`${stack.publicUrl}/token`);
    expect(metadata.authorization_endpoint).toBe(`${stack.publicUrl}/authorize`);
    expect(answer).not.toContain('evil.example');
  });

  it('tells the apps of a session that ends even after a second token cookie (planted from a sibling subdomain) hid it from the provider', async () => {
    const browser = new TestBrowser();
    const one = await stack.appSignIn(browser, 'one');
    const sid = decodeJwt(one.tokens.id_token!).sid as string;
    // Two token cookies are none: the provider, at this request, sees no portero session.
    await browser.jar.setCookie('auth_token=planted; Path=/authorize', `${stack.publicUrl}/authorize`);
    const hidden = await browser.get(network, authorizeUrl('one', { prompt: 'none' }), undefined, { from: stack.appsUrl });
    expect(new URL(hidden.headers.get('location')!).searchParams.get('error')).toBe('login_required');
    await browser.jar.setCookie('auth_token=; Path=/authorize; Max-Age=0', `${stack.publicUrl}/authorize`);
    await browser.request(network, `${stack.publicUrl}/logout`, { method: 'POST' });
    await pollUntil(async () => logoutsFor(sid).length > 0, { what: 'app one’s logout token', timeoutMs: 3000 });
    expect(logoutsFor(sid).map((entry) => entry.path)).toEqual(['/one/backchannel']);
  });

  it('tells the apps of a session that ends after another user signed in on the same browser', async () => {
    const browser = new TestBrowser();
    const one = await stack.appSignIn(browser, 'one');
    const aliceSid = decodeJwt(one.tokens.id_token!).sid as string;
    await forgetUpstreamSession(browser);
    const landed = `${stack.publicUrl}/?bob`;
    const login = `${stack.publicUrl}/login/corp?return_to=${encodeURIComponent(landed)}`;
    await signInToApp(browser, login, { appRedirect: landed, upstream: stack.upstream.issuer, account: 'bob' });
    expect(decodeJwt((await stack.appSignIn(browser, 'two')).tokens.id_token!).sub).toBe('corp:bob');
    // Alice, elsewhere, signs out of every session of hers: the one of the first browser too.
    const elsewhere = new TestBrowser();
    await stack.appSignIn(elsewhere, 'one');
    await elsewhere.request(network, `${stack.publicUrl}/logout?everywhere=true`, { method: 'POST' });
    await pollUntil(async () => logoutsFor(aliceSid).length > 0, { what: 'app one’s logout token for the first browser', timeoutMs: 3000 });
    expect(logoutsFor(aliceSid).map((entry) => entry.path)).toEqual(['/one/backchannel']);
  });

  it('sends each app a logout token with the sid its ID token has, after another app’s prompt=login began a new session', async () => {
    const browser = new TestBrowser();
    const one = await stack.appSignIn(browser, 'one');
    const before = decodeJwt(one.tokens.id_token!).sid as string;
    const two = await stack.appSignIn(browser, 'two', { prompt: 'login' });
    const after = decodeJwt(two.tokens.id_token!).sid as string;
    expect(after).not.toBe(before);
    await browser.request(network, `${stack.publicUrl}/logout`, { method: 'POST' });
    await pollUntil(async () => logoutsFor(before).length > 0 && logoutsFor(after).length > 0, {
      what: 'the logout tokens',
      timeoutMs: 3000,
    });
    expect(logoutsFor(before).map((entry) => entry.path)).toEqual(['/one/backchannel']);
    expect(logoutsFor(after).map((entry) => entry.path)).toEqual(['/two/backchannel']);
  });

  it('sends the earlier sid too when the user signs out at the provider’s end-session endpoint', async () => {
    const browser = new TestBrowser();
    const one = await stack.appSignIn(browser, 'one');
    const before = decodeJwt(one.tokens.id_token!).sid as string;
    const two = await stack.appSignIn(browser, 'two', { prompt: 'login' });
    const url = client.buildEndSessionUrl(two.config, { id_token_hint: two.tokens.id_token!, client_id: 'two' });
    const confirm = await browser.get(network, url, undefined, { from: stack.appsUrl });
    const form = parseForm(await confirm.text(), url.href);
    const done = await browser.request(network, form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, logout: 'yes' }).toString(),
    });
    expect(done.status).toBe(303);
    await pollUntil(async () => logoutsFor(before).length > 0, { what: 'app one’s logout token with its sid', timeoutMs: 3000 });
    expect(logoutsFor(before).map((entry) => entry.path)).toEqual(['/one/backchannel']);
  });

  it('answers HEAD at the provider’s routes itself (405), rather than the provider writing a response Hono then writes again', async () => {
    const reported: unknown[] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => reported.push(args);
    try {
      for (const path of ['/.well-known/openid-configuration', '/authorize', '/end-session']) {
        const response = await fetch(`${stack.publicUrl}${path}`, { method: 'HEAD' });
        expect(response.status).toBe(405);
        expect(response.headers.get('allow')).toBe('GET, POST');
        expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      console.error = consoleError;
    }
    expect(reported).toEqual([]);
  });

  it('answers a resumed authorization that is no longer this browser’s with a page, whatever its query says (not a 500)', async () => {
    for (const query of ['', '?client_id=two', '?client_id=one&redirect_uri=x&state=y']) {
      const response = await fetch(`${stack.publicUrl}/authorize/not-a-uid${query}`, { redirect: 'manual' });
      expect(response.status).toBe(400);
      expect(await response.text()).toContain('The app’s sign-in failed');
    }
  });

  it('sends the browser nowhere but a registered URI for any of oauth2-proxy’s open-redirect payloads as redirect_uri or post_logout_redirect_uri', async () => {
    const payloads = readFileSync(new URL('../fixtures/openredirects.txt', import.meta.url), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        try {
          return decodeURIComponent(line);
        } catch {
          return line;
        }
      });
    const registered = new Set([`${stack.appsUrl}/one/callback`, `${stack.appsUrl}/one/bye`]);
    const browser = new TestBrowser();
    await stack.appSignIn(browser, 'one');
    for (const payload of payloads) {
      const authorize = authorizeUrl('one', { redirect_uri: payload });
      const logout = `${stack.publicUrl}/end-session?${new URLSearchParams({ client_id: 'one', post_logout_redirect_uri: payload })}`;
      for (const url of [authorize, logout]) {
        const response = await browser.get(network, url, undefined, { from: stack.appsUrl });
        const location = response.headers.get('location');
        if (location === null) continue;
        const target = new URL(location, url);
        const where = `${target.origin}${target.pathname}`;
        expect(target.origin === stack.publicUrl || registered.has(where), `${JSON.stringify(payload)} sent the browser to ${where}`).toBe(
          true,
        );
      }
    }
  });

  it('puts its request id and security headers on the interaction’s answer too, when it finishes the interaction (single sign-on)', async () => {
    const browser = new TestBrowser();
    await stack.appSignIn(browser, 'one');
    // prompt=login after a sign-in at portero finishes the login prompt; prompt=consent, the consent one.
    const prompts: Record<string, string>[] = [{ prompt: 'consent', scope: 'openid offline_access' }, { max_age: '0' }];
    for (const extra of prompts) {
      let url = new URL(authorizeUrl('one', extra));
      const hops: string[] = [];
      for (let step = 0; step < 8 && url.href.startsWith(stack.publicUrl); step++) {
        const response = await browser.get(network, url, undefined, { from: stack.appsUrl });
        hops.push(url.pathname);
        expect(response.headers.get('x-request-id'), url.pathname).toMatch(/^[\w-]+$/);
        expect(response.headers.get('content-security-policy'), url.pathname).toContain("frame-ancestors 'none'");
        expect(response.headers.get('referrer-policy'), url.pathname).toBe('no-referrer');
        const location = response.headers.get('location');
        if (!location) break;
        if (new URL(location, url).origin === stack.upstream.issuer) {
          url = await signInAtOp(browser, new URL(location, url), 'alice', OP_ACCOUNTS.alice!.password);
          continue;
        }
        url = new URL(location, url);
      }
      expect(hops.some((hop) => hop.startsWith('/interaction/'))).toBe(true);
      expect(url.href.startsWith(`${stack.appsUrl}/one/callback`)).toBe(true);
    }
  });

  it('never adopts another browser’s provider session planted in a victim’s (session fixation): the victim’s own portero session, or none, decides', async () => {
    const attacker = new TestBrowser();
    await forgetUpstreamSession(attacker);
    const walk = await signInToApp(attacker, authorizeUrl('one'), {
      appRedirect: `${stack.appsUrl}/one/callback`,
      upstream: stack.upstream.issuer,
      from: stack.appsUrl,
      account: 'bob',
    });
    expect(walk.callback.searchParams.get('code')).toEqual(expect.any(String));
    const planted = (await attacker.cookies(`${stack.publicUrl}/authorize`)).filter((cookie) =>
      cookie.key.startsWith('portero_op_session'),
    );
    expect(planted.length).toBeGreaterThan(0);
    const plant = async (browser: TestBrowser) => {
      for (const cookie of planted) await browser.jar.setCookie(`${cookie.key}=${cookie.value}; Path=/`, stack.publicUrl);
    };
    // A victim signed in as herself gets her own account's code.
    const victim = new TestBrowser();
    await stack.appSignIn(victim, 'one');
    await plant(victim);
    const signedIn = await stack.appSignIn(victim, 'one', { prompt: 'none' });
    expect(decodeJwt(signedIn.tokens.id_token!).sub).toBe('corp:alice');
    // A browser without a portero session is not signed in as the attacker.
    const fresh = new TestBrowser();
    await plant(fresh);
    const silent = await fresh.get(network, authorizeUrl('one', { prompt: 'none' }), undefined, { from: stack.appsUrl });
    expect(new URL(silent.headers.get('location')!).searchParams.get('error')).toBe('login_required');
  });

  it('counts as a sign-in again (prompt=login) only a session begun after the interaction sent the browser to sign in, not an older one put back', async () => {
    // Two sessions of alice's: one in another browser, one in this.
    const other = new TestBrowser();
    await stack.appSignIn(other, 'one');
    const older = (await other.cookie(stack.publicUrl, 'auth_token'))!.value;
    const browser = new TestBrowser();
    await stack.appSignIn(browser, 'one');
    const started = await browser.get(network, authorizeUrl('one', { prompt: 'login' }), undefined, { from: stack.appsUrl });
    const interaction = new URL(started.headers.get('location')!, stack.publicUrl);
    const sent = await browser.get(network, interaction);
    expect(new URL(sent.headers.get('location')!, stack.publicUrl).pathname).toBe('/login/corp');
    // Rather than signing in, the browser comes back with the older session's cookie.
    await browser.jar.setCookie(`auth_token=${older}; Path=/; HttpOnly`, stack.publicUrl);
    const back = await browser.get(network, interaction);
    expect(back.status).toBe(303);
    expect(new URL(back.headers.get('location')!, stack.publicUrl).pathname).toBe('/login/corp');
  });

  it('gives the app a code for the account the user switched to at prompt=login, not an error page', async () => {
    const browser = new TestBrowser();
    await stack.appSignIn(browser, 'one');
    await forgetUpstreamSession(browser);
    const verifier = client.randomPKCECodeVerifier();
    const redirectUri = `${stack.appsUrl}/two/callback`;
    const url = authorizeUrl('two', {
      prompt: 'login',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const walk = await signInToApp(browser, url, {
      appRedirect: redirectUri,
      upstream: stack.upstream.issuer,
      from: stack.appsUrl,
      account: 'bob',
    });
    const code = walk.callback.searchParams.get('code');
    expect(code).toEqual(expect.any(String));
    const tokens = await fetch(`${stack.publicUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: code!,
        redirect_uri: redirectUri,
        client_id: 'two',
        code_verifier: verifier,
      }),
    });
    expect(decodeJwt(((await tokens.json()) as { id_token: string }).id_token).sub).toBe('corp:bob');
  });

  it('refuses a user the access rules now refuse as the specifications say (login_required, invalid_grant, invalid_token), not with a page or a 500', async () => {
    const emails = join(await mkdtemp(join(tmpdir(), 'portero-op-')), 'allowed-emails');
    await writeFile(emails, 'alice@corp.example\n');
    const ruled = await startPorteroOp({ PROVIDER_CORP_ALLOWED_EMAILS_FILE: emails, APP_ONE_OFFLINE_ACCESS: 'true' });
    try {
      const browser = new TestBrowser();
      const one = await ruled.appSignIn(browser, 'one', { scope: 'openid offline_access', prompt: 'consent' });
      await writeFile(emails, 'bob@corp.example\n');
      // prompt=none shows no page (OpenID Connect Core 3.1.2.1): the app hears it at its redirect URI.
      const query = new URLSearchParams({ client_id: 'one', response_type: 'code', scope: 'openid', prompt: 'none', state: 's' });
      query.set('redirect_uri', `${ruled.appsUrl}/one/callback`);
      const silent = await browser.get(network, `${ruled.publicUrl}/authorize?${query}`, undefined, { from: ruled.appsUrl });
      expect(silent.status).toBe(303);
      expect(new URL(silent.headers.get('location')!).searchParams.get('error')).toBe('login_required');
      await expect(client.refreshTokenGrant(one.config, one.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      const userinfo = await fetch(`${ruled.publicUrl}/userinfo`, { headers: { authorization: `Bearer ${one.tokens.access_token}` } });
      expect(userinfo.status).toBe(401);
      expect(userinfo.headers.get('www-authenticate')).toContain('invalid_token');
    } finally {
      await ruled.close();
    }
  });

  it('logs why the provider failed (the store unreachable), and answers 503 temporarily_unavailable, not a bare 500', async () => {
    const redis = await startRedisServer();
    // No RATE_LIMIT_TOKEN, which portero counts in the store itself first (its own 503): the provider meets the store's failure.
    const stored = await startPorteroOp({ RATE_LIMIT_TOKEN: 'off' }, { redisUrl: redis.url });
    try {
      await redis.kill();
      // Round-robin over two instances: one of the two reaches the first, whose log this is.
      for (let i = 0; i < 2; i++) {
        const response = await tokenRequest(stored.publicUrl, '198.51.100.3', basic('one', APP_ONE_SECRET));
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('5');
        expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
      }
      const line = stored.gateway.logs.lines.find((entry) => entry.route === '/token');
      expect(line).toMatchObject({ status: 503, error: 'store_unavailable' });
    } finally {
      await stored.close();
      await redis.stop();
    }
  });

  it('finishes an interaction only in the browser the provider sent to it: its cookies planted in a signed-in victim’s (cookie tossing) get a page', async () => {
    // The attacker begins an app's sign-in, and stops at the interaction.
    const attacker = new TestBrowser();
    const started = await attacker.get(network, authorizeUrl('one'), undefined, { from: stack.appsUrl });
    const interaction = new URL(started.headers.get('location')!, stack.publicUrl);
    expect(interaction.pathname).toMatch(/^\/interaction\//);
    // What a sibling subdomain can set in the victim's browser: the provider's own cookies (path-scoped, no __Host- prefix).
    const providerCookies = [
      ...(await attacker.cookies(interaction)),
      ...(await attacker.cookies(`${stack.publicUrl}/authorize/x`)),
    ].filter((cookie) => cookie.key.startsWith('portero_op_'));
    expect(providerCookies.length).toBeGreaterThan(0);
    const victim = new TestBrowser();
    await stack.appSignIn(victim, 'two');
    for (const cookie of providerCookies) await victim.jar.setCookie(`${cookie.key}=${cookie.value}; Path=${cookie.path}`, stack.publicUrl);
    const answered = await victim.get(network, interaction, undefined, { from: stack.appsUrl });
    expect(answered.status).toBe(400);
    expect(answered.headers.get('location')).toBeNull();
    expect(await answered.text()).toContain('Your sign-in expired');
    // The attacker's own browser, which the provider did send there, goes on to sign in.
    expect((await attacker.get(network, interaction, undefined, { from: stack.appsUrl })).status).toBe(303);
  });
});
