import { createHash } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { network, TestBrowser } from '../support/browser.js';
import { parseForm } from '../support/oidc-op.js';
import { type PorteroOpStack, startPorteroOp } from '../support/portero-op.js';
import { pollUntil } from '../support/wait.js';

// portero as an OpenID Provider over real HTTP: openid-client as two apps (one confidential, one
// public with PKCE), portero in front of a real upstream OpenID provider (oidc-provider), the apps'
// back-channel logout endpoints real HTTP servers.

let stack: PorteroOpStack;
beforeAll(async () => {
  stack = await startPorteroOp();
});
afterAll(() => stack.close());

const porteroSid = async (browser: TestBrowser) => decodeJwt((await browser.cookie(stack.publicUrl, 'auth_token'))!.value).sid;

describe('portero as an OpenID Provider', () => {
  it('publishes the provider’s metadata with portero’s issuer, JWKS and userinfo unchanged', async () => {
    const metadata = (await (await fetch(`${stack.publicUrl}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      issuer: stack.publicUrl,
      jwks_uri: `${stack.publicUrl}/.well-known/jwks.json`,
      userinfo_endpoint: `${stack.publicUrl}/userinfo`,
      authorization_endpoint: `${stack.publicUrl}/authorize`,
      token_endpoint: `${stack.publicUrl}/token`,
      end_session_endpoint: `${stack.publicUrl}/end-session`,
      code_challenge_methods_supported: ['S256'],
      backchannel_logout_supported: true,
      // The code flow only: no implicit or hybrid flow is offered to a library reading the metadata.
      response_types_supported: ['code'],
    });
    expect(metadata.grant_types_supported).not.toContain('implicit');
    expect(metadata.id_token_signing_alg_values_supported).toContain('RS256');
  });

  it('signs a user in to a confidential app through the upstream provider, then to a public app without it (single sign-on)', async () => {
    const browser = new TestBrowser();
    const one = await stack.appSignIn(browser, 'one');
    expect(one.walk.sawUpstream).toBe(true);
    const jwks = createRemoteJWKSet(new URL(`${stack.publicUrl}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(one.tokens.id_token!, jwks, { issuer: stack.publicUrl, audience: 'one' });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({
      sub: 'corp:alice',
      provider: 'corp',
      email: 'alice@corp.example',
      email_verified: true,
      name: 'Alice Liddell',
      sid: await porteroSid(browser),
      nonce: one.nonce,
    });
    const userinfo = await client.fetchUserInfo(one.config, one.tokens.access_token, 'corp:alice');
    expect(userinfo).toMatchObject({ sub: 'corp:alice', email: 'alice@corp.example', provider: 'corp' });

    const two = await stack.appSignIn(browser, 'two');
    expect(two.walk.sawUpstream).toBe(false);
    expect(decodeJwt(two.tokens.id_token!)).toMatchObject({ sub: 'corp:alice', aud: 'two', sid: await porteroSid(browser) });
  });

  it('answers response_mode=form_post with a page that posts the code to the app, its one script allowed by the CSP', async () => {
    const browser = new TestBrowser();
    await stack.appSignIn(browser, 'one');
    const config = await stack.discover('two');
    const verifier = client.randomPKCECodeVerifier();
    const redirectUri = `${stack.appsUrl}/two/callback`;
    let url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'form-state',
      response_mode: 'form_post',
    });
    let response = await browser.get(network, url, undefined, { from: stack.appsUrl });
    // Single sign-on: through portero's own hops (the interaction, the resumed authorization) to the page.
    for (let hop = 0; hop < 5 && response.status >= 300 && response.status < 400; hop++) {
      url = new URL(response.headers.get('location')!, url);
      response = await browser.get(network, url);
    }
    expect(response.status).toBe(200);
    const page = await response.text();
    const form = parseForm(page, url.href);
    expect(form.action).toBe(redirectUri);
    expect(form.fields).toMatchObject({ state: 'form-state', code: expect.any(String) });
    // The browser would run the page's submit: the CSP names the script's hash, and lets the form post to the app.
    const csp = response.headers.get('content-security-policy') ?? '';
    const script = /<script>([\s\S]*?)<\/script>/.exec(page)![1]!;
    expect(csp).toContain(`'sha256-${createHash('sha256').update(script).digest('base64')}'`);
    expect(csp).toMatch(new RegExp(`form-action [^;]*${stack.appsUrl.replaceAll('.', '\\.')}`));
    const tokens = await client.authorizationCodeGrant(config, new URL(`${redirectUri}?${new URLSearchParams(form.fields)}`), {
      pkceCodeVerifier: verifier,
      expectedState: 'form-state',
    });
    expect(tokens.access_token).toEqual(expect.any(String));
  });

  it('gives each scope its claims of portero’s: groups with `groups`, name with `profile`, none of them with `openid` alone', async () => {
    const grouped = await startPorteroOp({ PROVIDER_CORP_ALLOWED_GROUPS: 'staff,admins' });
    try {
      const browser = new TestBrowser();
      const all = await grouped.appSignIn(browser, 'one', { scope: 'openid profile groups' });
      expect(decodeJwt(all.tokens.id_token!)).toMatchObject({ name: 'Alice Liddell', groups: ['staff', 'admins'] });
      expect(await client.fetchUserInfo(all.config, all.tokens.access_token, 'corp:alice')).toMatchObject({ groups: ['staff', 'admins'] });
      const bare = decodeJwt((await grouped.appSignIn(browser, 'two', { scope: 'openid' })).tokens.id_token!);
      expect(bare).toMatchObject({ sub: 'corp:alice', provider: 'corp' });
      for (const claim of ['name', 'email', 'groups']) expect(bare[claim], claim).toBeUndefined();
    } finally {
      await grouped.close();
    }
  });

  it('refuses the apps’ tokens where portero’s own are expected: /auth answers 401 to an ID token and an access token', async () => {
    const { tokens } = await stack.appSignIn(new TestBrowser(), 'one');
    for (const token of [tokens.id_token!, tokens.access_token]) {
      const response = await fetch(`${stack.publicUrl}/auth`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(401);
    }
  });

  it('answers prompt=none without a session with login_required, at the app’s redirect URI', async () => {
    const config = await stack.discover('two');
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${stack.appsUrl}/two/callback`,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: 'x',
      prompt: 'none',
    });
    const response = await new TestBrowser().get(network, url);
    const back = new URL(response.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(`${stack.appsUrl}/two/callback`);
    expect(back.searchParams.get('error')).toBe('login_required');
  });

  it('a sign-out at portero reaches both apps by back-channel logout, with portero’s sid, and their tokens stop working', async () => {
    const browser = new TestBrowser();
    const one = await stack.appSignIn(browser, 'one');
    await stack.appSignIn(browser, 'two');
    const sid = await porteroSid(browser);
    stack.logoutTokens.length = 0;
    const out = await browser.request(network, `${stack.publicUrl}/logout`, { method: 'POST' });
    expect(out.status).toBe(302);
    await pollUntil(async () => stack.logoutTokens.length >= 2, { what: 'both apps’ logout tokens', timeoutMs: 3000 });
    expect(stack.logoutTokens.map((entry) => entry.path).sort()).toEqual(['/one/backchannel', '/two/backchannel']);
    for (const { token } of stack.logoutTokens) expect(decodeJwt(token)).toMatchObject({ sub: 'corp:alice', sid, iss: stack.publicUrl });
    await expect(client.fetchUserInfo(one.config, one.tokens.access_token, 'corp:alice')).rejects.toThrow();
    const sent = stack.gateway.logs.lines.filter((line) => line.event === 'app_logout_sent' && line.sid === sid);
    expect(sent.map((line) => [line.client_id, line.outcome]).sort()).toEqual([
      ['one', 'sent'],
      ['two', 'sent'],
    ]);
  });

  it('counts the apps’ token responses and logout tokens in the metrics, and logs each token response', async () => {
    const { body } = await stack.gateway.metrics.scrape();
    expect(body).toMatch(/portero_app_tokens_issued_total\{client_id="one",grant_type="authorization_code"\} [1-9]/);
    expect(body).toMatch(/portero_app_backchannel_logouts_total\{client_id="two",outcome="sent"\} [1-9]/);
    expect(body).toMatch(/portero_app_backchannel_logouts_total\{client_id="two",outcome="failed"\} 0/);
    expect(stack.gateway.logs.lines.find((line) => line.event === 'app_token_issued' && line.client_id === 'two')).toMatchObject({
      grant_type: 'authorization_code',
      sub: 'corp:alice',
    });
  });
});
