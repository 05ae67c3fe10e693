import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { network, TestBrowser } from '../support/browser.js';
import { confirmSignOutAtOp } from '../support/oidc-op.js';
import { parseForm } from '../support/oidc-op.js';
import { type PorteroOpStack, startPorteroOp } from '../support/portero-op.js';
import { pollUntil } from '../support/wait.js';

// One set of sessions: an app's sign-in and portero's are the same session; prompt=login and
// max_age send the user to the upstream provider again; every way of signing out reaches the apps.

let stack: PorteroOpStack;
beforeAll(async () => {
  stack = await startPorteroOp();
});
afterAll(() => stack.close());

const porteroToken = async (browser: TestBrowser) => (await browser.cookie(stack.publicUrl, 'auth_token'))?.value;
const authStatus = async (token: string) =>
  (await fetch(`${stack.publicUrl}/auth`, { headers: { authorization: `Bearer ${token}` } })).status;

describe('one set of sessions', () => {
  it('a session begun at portero’s own /login gives an app its code without the upstream provider', async () => {
    const browser = new TestBrowser();
    await stack.appSignIn(browser, 'one');
    const two = await stack.appSignIn(browser, 'two');
    expect(two.walk.sawUpstream).toBe(false);
    // Every hop stayed at portero: authorize, its interaction, the resumed authorization.
    expect(two.walk.hops.slice(0, -1).every((hop) => hop.startsWith(stack.publicUrl))).toBe(true);
  });

  it('prompt=login sends the user to the upstream provider again, and the new session’s sid names the app’s tokens', async () => {
    const browser = new TestBrowser();
    await stack.appSignIn(browser, 'one');
    const before = decodeJwt((await porteroToken(browser))!).sid;
    const again = await stack.appSignIn(browser, 'two', { prompt: 'login' });
    expect(again.walk.sawUpstream).toBe(true);
    const after = decodeJwt((await porteroToken(browser))!).sid;
    expect(after).not.toBe(before);
    expect(decodeJwt(again.tokens.id_token!)).toMatchObject({ sid: after });
  });

  it('max_age older than the session asks the upstream provider again; a younger one does not', async () => {
    const browser = new TestBrowser();
    await stack.appSignIn(browser, 'one');
    const young = await stack.appSignIn(browser, 'two', { max_age: '3600' });
    expect(young.walk.sawUpstream).toBe(false);
    expect(decodeJwt(young.tokens.id_token!).auth_time).toEqual(expect.any(Number));
    // oidc-provider counts whole seconds: 2.1 s is more than a max_age of 1 however the seconds fall.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const old = await stack.appSignIn(browser, 'two', { max_age: '1' });
    expect(old.walk.sawUpstream).toBe(true);
  });

  it('RP-initiated logout at the provider signs out of portero and of the other app (back-channel)', async () => {
    const browser = new TestBrowser();
    const one = await stack.appSignIn(browser, 'one');
    await stack.appSignIn(browser, 'two');
    const token = (await porteroToken(browser))!;
    stack.logoutTokens.length = 0;
    const url = client.buildEndSessionUrl(one.config, {
      id_token_hint: one.tokens.id_token!,
      post_logout_redirect_uri: `${stack.appsUrl}/one/bye`,
      state: 'bye-state',
    });
    const confirm = await browser.get(network, url, undefined, { from: stack.appsUrl });
    expect(confirm.status).toBe(200);
    const page = await confirm.text();
    expect(page).toContain('App One');
    const form = parseForm(page, url.href);
    const done = await browser.request(network, form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, logout: 'yes' }).toString(),
    });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`${stack.appsUrl}/one/bye?state=bye-state`);
    expect(await porteroToken(browser)).toBeUndefined();
    expect(await authStatus(token)).toBe(401);
    expect(stack.logoutTokens.map((entry) => entry.path).sort()).toEqual(['/one/backchannel', '/two/backchannel']);
    expect(stack.gateway.logs.lines.find((line) => line.event === 'session_ended' && line.sid === decodeJwt(token).sid)).toMatchObject({
      reason: 'logout',
    });
  });

  it('a sign-out at the upstream provider reaches portero, and from portero the apps', async () => {
    const browser = new TestBrowser();
    await stack.appSignIn(browser, 'one');
    const token = (await porteroToken(browser))!;
    const sid = decodeJwt(token).sid as string;
    const idToken = JSON.parse((await stack.gateway.store.get(`session-grant:${sid}`))!).idToken as string;
    stack.logoutTokens.length = 0;
    const endSession = new URL(`${stack.upstream.issuer}/session/end`);
    endSession.searchParams.set('id_token_hint', idToken);
    await confirmSignOutAtOp(browser, endSession.href, stack.publicUrl);
    await pollUntil(async () => stack.logoutTokens.length >= 1, { what: 'the app’s logout token', timeoutMs: 3000 });
    expect(stack.logoutTokens[0]).toMatchObject({ path: '/one/backchannel' });
    expect(decodeJwt(stack.logoutTokens[0]!.token)).toMatchObject({ sid, sub: 'corp:alice' });
    expect(await authStatus(token)).toBe(401);
  });
});
