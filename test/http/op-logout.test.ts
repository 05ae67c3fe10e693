import { type ServerType, serve } from '@hono/node-server';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, memoryStore, type TestApp } from '../support/app.js';
import { network, TestBrowser } from '../support/browser.js';
import { confirmSignOutAtOp, OP_ACCOUNTS, type OidcOp, signInAtOp, startOidcOp } from '../support/oidc-op.js';
import { freePort } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';

// Both logouts with the certified oidc-provider over real HTTP: portero's /logout continues at its
// end_session endpoint and comes back to return_to; and a sign-out at the provider reaches
// portero by back-channel logout, which ends portero's session of it.

let op: OidcOp;
let gateway: TestApp;
let server: ServerType;
let publicUrl: string;

beforeAll(async () => {
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  op = await startOidcOp({
    redirectUris: [`${publicUrl}/callback/corp`],
    postLogoutRedirectUris: [`${publicUrl}/signed-out`],
    backchannelLogoutUri: `${publicUrl}/backchannel-logout/corp`,
  });
  gateway = await buildTestApp({ store: memoryStore(), env: { ...op.env('corp'), PUBLIC_URL: publicUrl } });
  server = serve({ fetch: gateway.app.fetch, port, hostname: '127.0.0.1' });
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await op.close();
});

/** Alice signs in to portero through the provider, in a browser of her own. */
async function signIn(): Promise<{ browser: TestBrowser; token: string }> {
  const browser = new TestBrowser();
  const login = await browser.get(network, `${publicUrl}/login/corp`);
  const callback = await signInAtOp(browser, login.headers.get('location')!, 'alice', OP_ACCOUNTS.alice!.password);
  expect((await browser.get(network, callback, undefined, { from: op.issuer })).status).toBe(302);
  return { browser, token: (await browser.cookie(publicUrl, 'auth_token'))!.value };
}

const authStatus = async (token: string) => (await fetch(`${publicUrl}/auth`, { headers: { authorization: `Bearer ${token}` } })).status;

describe('logout with a real OpenID provider', () => {
  it('/logout reaches its end_session endpoint, which signs the user out there and sends them back through /signed-out', async () => {
    const { browser, token } = await signIn();
    const out = await browser.request(network, `${publicUrl}/logout?return_to=${encodeURIComponent(`${publicUrl}/bye`)}`, {
      method: 'POST',
    });
    expect(out.status).toBe(302);
    const endSession = new URL(out.headers.get('location')!);
    expect(endSession.origin).toBe(op.issuer);
    expect(await authStatus(token)).toBe(401);

    const back = await confirmSignOutAtOp(browser, endSession.href, publicUrl);
    expect(`${back.origin}${back.pathname}`).toBe(`${publicUrl}/signed-out`);
    const landed = await browser.get(network, back, undefined, { from: op.issuer });
    expect(landed.status).toBe(302);
    expect(landed.headers.get('location')).toBe(`${publicUrl}/bye`);
    // Signed out at the provider too: a new sign-in asks for the password again.
    const again = await browser.get(network, `${publicUrl}/login/corp`);
    const atProvider = await browser.get(network, again.headers.get('location')!, undefined, { from: publicUrl });
    const interaction = await browser.get(network, new URL(atProvider.headers.get('location')!, op.issuer), undefined, { from: op.issuer });
    expect(await interaction.text()).toContain('name="password"');
  });

  it('a sign-out at the provider ends portero’s session of it by back-channel logout', async () => {
    const { browser, token } = await signIn();
    const { sid } = decodeJwt(token) as { sid: string };
    const idToken = JSON.parse((await gateway.store.get(`session-grant:${sid}`))!).idToken as string;
    expect(decodeJwt(idToken).sid).toEqual(expect.any(String));
    expect(await authStatus(token)).toBe(200);

    // The user signs out at the provider itself (another of its apps did it, say), not through portero.
    const endSession = new URL(`${op.issuer}/session/end`);
    endSession.searchParams.set('id_token_hint', idToken);
    await confirmSignOutAtOp(browser, endSession.href, publicUrl);
    await pollUntil(async () => (await authStatus(token)) === 401, { what: 'the back-channel logout to end the session', timeoutMs: 3000 });
    expect(gateway.logs.lines.find((line) => line.route === '/backchannel-logout/:provider')).toMatchObject({ status: 200 });
    expect(gateway.logs.lines.find((line) => line.event === 'session_ended' && line.sid === sid)).toMatchObject({ reason: 'backchannel' });
    expect(await gateway.store.get(`session:${sid}`)).toBeUndefined();
  });
});
