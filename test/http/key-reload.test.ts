import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/tokens/key-ring.js';
import { buildKeySet, generateKeyJwk } from '../../src/tokens/keys.js';
import { buildTestApp, memoryStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';

// JWT_KEYS reloaded while the gateway serves (main.ts replaces the KeyRing's set on SIGHUP or
// when the file changes): every route sees the new keys at the next request, the JWKS with a new
// entity tag, and /auth refuses at once a token whose key was retired, though it had just passed.

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://gateway.test';

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

async function signIn(gateway: TestApp): Promise<string> {
  const browser = new TestBrowser();
  const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
  const done = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(login.headers.get('location')!, { sub: 'u-1' })}`);
  expect(done.status).toBe(302);
  return (await browser.cookie(GATEWAY, '__Host-auth_token'))!.value;
}

const auth = async (gateway: TestApp, token: string) =>
  (await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } })).status;

async function jwks(gateway: TestApp, etag?: string): Promise<{ status: number; etag: string | null; kids: string[] }> {
  const response = await gateway.app.request(`${GATEWAY}/.well-known/jwks.json`, { headers: etag ? { 'if-none-match': etag } : {} });
  const kids = response.status === 200 ? ((await response.json()) as JSONWebKeySet).keys.map((key) => String(key.kid)) : [];
  return { status: response.status, etag: response.headers.get('etag'), kids };
}

describe('keys reloaded while the gateway serves', () => {
  it('stage, promote, retire: the JWKS, the signing key and /auth follow each reload at once', async () => {
    const [a, b] = [await generateKeyJwk('ES256'), await generateKeyJwk('ES256')];
    const ring = new KeyRing(await buildKeySet([a], 'ES256'));
    const gateway = await buildTestApp({ store: memoryStore(), keys: ring, env: idp.env('corp') });
    const old = await signIn(gateway);
    expect(decodeProtectedHeader(old).kid).toBe(a.kid);
    expect(await auth(gateway, old)).toBe(200);
    const before = await jwks(gateway);
    expect(before).toMatchObject({ status: 200, kids: [a.kid] });
    // A cache holding this set revalidates it for nothing while the keys stay.
    expect(await jwks(gateway, before.etag!)).toMatchObject({ status: 304, etag: before.etag });

    // Staged: B published, A still signs; a cache's old set is no longer current.
    ring.replace(await buildKeySet([a, b], 'ES256'));
    const staged = await jwks(gateway, before.etag!);
    expect(staged).toMatchObject({ status: 200, kids: [a.kid, b.kid] });
    expect(staged.etag).not.toBe(before.etag);
    expect(decodeProtectedHeader(await signIn(gateway)).kid).toBe(a.kid);

    // Promoted: B signs, A's token still passes.
    ring.replace(await buildKeySet([b, a], 'ES256'));
    const renewed = await signIn(gateway);
    expect(decodeProtectedHeader(renewed).kid).toBe(b.kid);
    expect(await auth(gateway, old)).toBe(200);
    expect(await auth(gateway, renewed)).toBe(200);

    // Retired: A's token, verified (and cached) a moment ago, is refused; B's passes.
    ring.replace(await buildKeySet([b], 'ES256'));
    expect(await auth(gateway, old)).toBe(401);
    expect(await auth(gateway, renewed)).toBe(200);
    expect(await jwks(gateway)).toMatchObject({ status: 200, kids: [b.kid] });
  });
});
