import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { INVALID_LOGOUT_TOKEN, isPorteroError } from '../../src/errors.js';
import { endSessionUrl } from '../../src/flow/end-session.js';
import { validateLogoutToken } from '../../src/flow/logout-token.js';
import { type ConfiguredProvider, configureProviders, providerOptions } from '../../src/flow/provider-client.js';
import { memoryStore, TEST_COOKIE_SECRET } from '../support/app.js';
import { network, TestBrowser } from '../support/browser.js';
import { OP_ACCOUNTS, type OidcOp, parseForm, signInAtOp, startOidcOp } from '../support/oidc-op.js';

// Logout with a real OpenID provider (the certified oidc-provider, on loopback, in this process):
// the browser follows endSessionUrl to its end_session endpoint, confirms on its page, and is sent
// back to the registered post_logout_redirect_uri with the state; meanwhile the provider posts a
// real back-channel logout token to the client's backchannel_logout_uri, which validateLogoutToken
// accepts, naming the session (sid) of the ID token and the user, once.

const GATEWAY = 'https://gateway.test';
const REDIRECT_URI = `${GATEWAY}/callback/corp`;
const POST_LOGOUT = `${GATEWAY}/logout/done`;

/** The client's backchannel_logout_uri: a server that keeps each logout_token posted to it. */
let receiver: Server;
const posted: { contentType: string | undefined; form: URLSearchParams }[] = [];
let op: OidcOp;
let provider: ConfiguredProvider;

beforeAll(async () => {
  receiver = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    posted.push({ contentType: req.headers['content-type'], form: new URLSearchParams(body) });
    res.writeHead(200, { 'cache-control': 'no-store' }).end();
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const backchannelLogoutUri = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/backchannel-logout/corp`;
  op = await startOidcOp({ redirectUris: [REDIRECT_URI], postLogoutRedirectUris: [POST_LOGOUT], backchannelLogoutUri });
  const config = parseConfig({ PUBLIC_URL: GATEWAY, COOKIE_SECRET: TEST_COOKIE_SECRET, ...op.env('corp') });
  provider = configureProviders(config.providers, providerOptions(config)).get('corp')!;
});
afterAll(async () => {
  await op?.close();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
});

/** Alice signs in at the provider in `browser` (code flow with PKCE and nonce): the provider's ID token and its claims. */
async function signIn(browser: TestBrowser): Promise<{ idToken: string; claims: client.IDToken }> {
  const config = await provider.client();
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const callback = await signInAtOp(browser, url, 'alice', OP_ACCOUNTS.alice!.password);
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
  });
  return { idToken: tokens.id_token!, claims: tokens.claims()! };
}

describe('logout at a real OpenID provider', () => {
  it('goes to its end_session endpoint and back to post_logout_redirect_uri with the state, and its logout token names the session, once', async () => {
    const browser = new TestBrowser();
    const { idToken, claims } = await signIn(browser);
    expect(claims.sid).toEqual(expect.any(String));

    const url = await endSessionUrl(provider, { idTokenHint: idToken, postLogoutRedirectUri: POST_LOGOUT, state: 'st-42' });
    expect(url?.origin).toBe(op.issuer);
    const confirm = await browser.get(network, url!, undefined, { from: GATEWAY });
    expect(confirm.status).toBe(200);
    const page = await confirm.text();
    // The provider asks first; its "Yes, sign me out" button submits the form with logout=yes.
    expect(page).toMatch(/<button[^>]*value="yes"[^>]*name="logout"/);
    const form = parseForm(page, url!.href);
    const done = await browser.request(network, form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, logout: 'yes' }).toString(),
    });
    expect(done.status).toBeGreaterThanOrEqual(300);
    expect(done.status).toBeLessThan(400);
    const back = new URL(done.headers.get('location')!);
    expect(back.origin + back.pathname).toBe(POST_LOGOUT);
    expect(Object.fromEntries(back.searchParams)).toEqual({ state: 'st-42' });

    // Before redirecting, the provider posted the logout token to the client, as a form.
    expect(posted).toHaveLength(1);
    expect(posted[0]!.contentType).toContain('application/x-www-form-urlencoded');
    const logoutToken = posted[0]!.form.get('logout_token')!;
    const store = memoryStore();
    const deps = { store, clock: { now: () => Date.now() } };
    expect(await validateLogoutToken(provider, logoutToken, deps)).toEqual({ sid: claims.sid, sub: 'alice' });
    const replay = await validateLogoutToken(provider, logoutToken, deps).catch((err: unknown) => err);
    expect(isPorteroError(replay, INVALID_LOGOUT_TOKEN)).toBe(true);
    expect(replay).toMatchObject({ detail: { reason: 'the jti was used before (a replay)' } });
  });

  it('refuses the provider’s ID token offered as a logout token (no jti, no logout event, a nonce)', async () => {
    const { idToken } = await signIn(new TestBrowser());
    const refused = await validateLogoutToken(provider, idToken, { store: memoryStore(), clock: { now: () => Date.now() } }).catch(
      (err: unknown) => err,
    );
    expect(isPorteroError(refused, INVALID_LOGOUT_TOKEN)).toBe(true);
    expect(refused).toMatchObject({ detail: { reason: 'missing required "jti" claim' } });
  });
});
