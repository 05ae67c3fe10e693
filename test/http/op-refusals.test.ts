import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { network, TestBrowser } from '../support/browser.js';
import { APP_ONE_SECRET, basic, type PorteroOpStack, signInToApp, startPorteroOp } from '../support/portero-op.js';

// What the specifications say an OpenID Provider refuses, refused with nothing issued: each case
// made by hand over HTTP, as an attacker or a misconfigured app would send it.

let stack: PorteroOpStack;
beforeAll(async () => {
  stack = await startPorteroOp();
});
afterAll(() => stack.close());

/** A code for app `one` (or `two`), its PKCE verifier, from a real sign-in in a browser of its own. */
async function codeFor(app: 'one' | 'two', browser = new TestBrowser()) {
  const verifier = client.randomPKCECodeVerifier();
  const redirectUri = `${stack.appsUrl}/${app}/callback`;
  const url = new URL(`${stack.publicUrl}/authorize`);
  url.search = new URLSearchParams({
    client_id: app,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid email',
    state: 'some-state',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString();
  const walk = await signInToApp(browser, url, { appRedirect: redirectUri, upstream: stack.upstream.issuer, from: stack.appsUrl });
  return { code: walk.callback.searchParams.get('code')!, verifier, redirectUri };
}

async function exchange(form: Record<string, string>, authorization?: string) {
  const response = await fetch(`${stack.publicUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const nothingIssued = (body: Record<string, unknown>) => {
  expect(body.access_token).toBeUndefined();
  expect(body.id_token).toBeUndefined();
  expect(body.refresh_token).toBeUndefined();
};

describe('the OpenID Provider refuses', () => {
  it('an unregistered redirect URI: a page at portero, never a redirect to it', async () => {
    const url = new URL(`${stack.publicUrl}/authorize`);
    url.search = new URLSearchParams({
      client_id: 'one',
      redirect_uri: 'https://attacker.example/callback',
      response_type: 'code',
      scope: 'openid',
      state: 's',
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
    }).toString();
    const response = await new TestBrowser().get(network, url);
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    const page = await response.text();
    expect(page).toContain('has not registered');
    expect(page).not.toContain('attacker.example');
  });

  it('a wrong client secret: invalid_client, and the code still works for the real app', async () => {
    const { code, verifier, redirectUri } = await codeFor('one');
    const wrong = await exchange(
      { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier },
      basic('one', `${APP_ONE_SECRET}x`),
    );
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    nothingIssued(wrong.body);
    const right = await exchange(
      { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier },
      basic('one', APP_ONE_SECRET),
    );
    expect(right.status).toBe(200);
  });

  it('a replayed code: invalid_grant, and the tokens of its first exchange are revoked', async () => {
    const { code, verifier, redirectUri } = await codeFor('one');
    const form = { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier };
    const first = await exchange(form, basic('one', APP_ONE_SECRET));
    expect(first.status).toBe(200);
    const replay = await exchange(form, basic('one', APP_ONE_SECRET));
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    nothingIssued(replay.body);
    const userinfo = await fetch(`${stack.publicUrl}/userinfo`, { headers: { authorization: `Bearer ${first.body.access_token}` } });
    expect(userinfo.status).toBe(401);
  });

  it('a code issued to another app: invalid_grant', async () => {
    const { code, verifier } = await codeFor('two');
    const stolen = await exchange(
      { grant_type: 'authorization_code', code, redirect_uri: `${stack.appsUrl}/one/callback`, code_verifier: verifier },
      basic('one', APP_ONE_SECRET),
    );
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toBe('invalid_grant');
    nothingIssued(stolen.body);
  });

  it('a public app’s authorization request without PKCE: invalid_request at its redirect URI, no code', async () => {
    const url = new URL(`${stack.publicUrl}/authorize`);
    url.search = new URLSearchParams({
      client_id: 'two',
      redirect_uri: `${stack.appsUrl}/two/callback`,
      response_type: 'code',
      scope: 'openid',
      state: 's',
    }).toString();
    const response = await new TestBrowser().get(network, url);
    const back = new URL(response.headers.get('location')!);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toMatch(/PKCE/);
    expect(back.searchParams.has('code')).toBe(false);
  });

  it('a plain PKCE challenge, but not a confidential app’s sign-in without PKCE: its secret binds the code, as at Dex and Keycloak', async () => {
    const browser = new TestBrowser();
    const redirectUri = `${stack.appsUrl}/one/callback`;
    const url = new URL(`${stack.publicUrl}/authorize`);
    url.search = new URLSearchParams({
      client_id: 'one',
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid',
      state: 's',
    }).toString();
    const walk = await signInToApp(browser, url, { appRedirect: redirectUri, upstream: stack.upstream.issuer, from: stack.appsUrl });
    const code = walk.callback.searchParams.get('code')!;
    const exchanged = await exchange({ grant_type: 'authorization_code', code, redirect_uri: redirectUri }, basic('one', APP_ONE_SECRET));
    expect(exchanged.status).toBe(200);
    url.searchParams.set('code_challenge', 'x'.repeat(43));
    url.searchParams.set('code_challenge_method', 'plain');
    const plain = new URL((await browser.get(network, url)).headers.get('location')!);
    expect(plain.searchParams.get('error')).toBe('invalid_request');
  });

  it('a public app’s code exchanged without its verifier, or with another: invalid_grant', async () => {
    const { code, redirectUri } = await codeFor('two');
    const without = await exchange({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: 'two' });
    expect(without.status).toBe(400);
    expect(without.body.error).toBe('invalid_grant');
    nothingIssued(without.body);
    const other = await exchange({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: 'two',
      code_verifier: client.randomPKCECodeVerifier(),
    });
    expect(other.body.error).toBe('invalid_grant');
    nothingIssued(other.body);
  });
});
