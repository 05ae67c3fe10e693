import { createHmac } from 'node:crypto';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ephemeralKeySet, type KeySet } from '../../src/tokens/keys.js';
import { buildTestApp, memoryStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';

// The flow cookie: `<flow id>.<HMAC-SHA256 of it, base64url without padding>`, accepted only in
// exactly that spelling, under COOKIE_SECRET or one of COOKIE_SECRET_PREVIOUS.

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://gateway.test';
const SECRET_A = 'secret-a-0123456789-0123456789-0123456789';
const SECRET_B = 'secret-b-0123456789-0123456789-0123456789';
const SECRET_X = 'secret-x-0123456789-0123456789-0123456789';

let keys: KeySet;
beforeAll(async () => {
  msw.listen({ onUnhandledRequest: 'error' });
  keys = await ephemeralKeySet('ES256');
});
afterAll(() => msw.close());

/** Instances of one deployment: one store, one key set, each with its own cookie secrets. */
function deployment() {
  const store = memoryStore();
  return (env: Record<string, string>) => buildTestApp({ store, keys, env: { ...idp.env('corp'), ...env } });
}

/** A login started on `gateway`: the flow cookie's name and value as sent, and the provider's callback query. */
async function startLogin(gateway: TestApp) {
  const browser = new TestBrowser();
  const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
  expect(login.status).toBe(302);
  const [line] = login.headers.getSetCookie();
  const name = line!.slice(0, line!.indexOf('='));
  const value = line!.slice(name.length + 1, line!.indexOf(';'));
  return { name, value, callback: idp.authorize(login.headers.get('location')!, { sub: 'u-1' }) };
}

function callback(gateway: TestApp, query: URLSearchParams, cookie: string) {
  return gateway.app.request(`${GATEWAY}/callback/corp?${query}`, { headers: { cookie, accept: 'application/json' } });
}

const hmac = (value: string, secret: string) => createHmac('sha256', secret).update(value).digest();

/** The last base64url character with its lowest bit flipped: for 32 bytes that bit is padding. */
function flipPaddingBit(signature: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  return signature.slice(0, -1) + alphabet[alphabet.indexOf(signature.at(-1)!) ^ 1];
}

describe('the flow cookie', () => {
  it('is the flow id and its HMAC-SHA256 under COOKIE_SECRET, base64url without padding', async () => {
    const gateway = await deployment()({ COOKIE_SECRET: SECRET_A });
    const { value } = await startLogin(gateway);
    const [flowId, signature] = value.split('.');
    expect(signature).toBe(hmac(flowId!, SECRET_A).toString('base64url'));
  });

  it('is refused in any other spelling of the same signature, and accepted in its own', async () => {
    const gateway = await deployment()({ COOKIE_SECRET: SECRET_A });
    const { name, value, callback: query } = await startLogin(gateway);
    const [flowId, signature] = value.split('.') as [string, string];
    const bytes = hmac(flowId, SECRET_A);
    const variants: Record<string, string> = {
      'padding added': `${flowId}.${signature}=`,
      'a padding bit flipped': `${flowId}.${flipPaddingBit(signature)}`,
      'standard base64 with padding (what Hono wrote)': `${flowId}.${bytes.toString('base64')}`,
      'standard base64, percent-encoded': `${flowId}.${encodeURIComponent(bytes.toString('base64'))}`,
      'the dot percent-encoded': `${flowId}%2E${signature}`,
      'a letter percent-encoded': `${flowId}.${signature.slice(0, -2)}%${signature.charCodeAt(signature.length - 2).toString(16)}${signature.at(-1)}`,
      quoted: `"${value}"`,
    };
    // Each decodes to the same bytes as the real signature: only the spelling differs.
    expect(Buffer.from(flipPaddingBit(signature), 'base64url')).toEqual(bytes);
    expect(Buffer.from(`${signature}=`, 'base64url')).toEqual(bytes);
    for (const [what, variant] of Object.entries(variants)) {
      expect(variant, what).not.toBe(value);
      const refused = await callback(gateway, query, `${name}=${variant}`);
      expect(refused.status, what).toBe(400);
      expect(await refused.json(), what).toMatchObject({ error: 'flow_invalid' });
    }
    expect(gateway.logs.lines.filter((line) => line.reason === 'bad cookie signature')).toHaveLength(Object.keys(variants).length);
    // The control: the flow was untouched by the refusals, and completes with the cookie as written.
    const done = await callback(gateway, query, `${name}=${value}`);
    expect(done.status).toBe(302);
  });

  it('is refused when signed by a secret the instance does not know', async () => {
    const gateway = await deployment()({ COOKIE_SECRET: SECRET_A, COOKIE_SECRET_PREVIOUS: SECRET_B });
    const { name, value, callback: query } = await startLogin(gateway);
    const [flowId] = value.split('.') as [string];
    const refused = await callback(gateway, query, `${name}=${flowId}.${hmac(flowId, SECRET_X).toString('base64url')}`);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'flow_invalid' });
    expect(gateway.logs.lines.at(-1)).toMatchObject({ reason: 'bad cookie signature' });
  });
});

describe('rotating COOKIE_SECRET', () => {
  it('a login started under secret A completes on an instance with COOKIE_SECRET=B and COOKIE_SECRET_PREVIOUS=A', async () => {
    const instance = deployment();
    const before = await instance({ COOKIE_SECRET: SECRET_A });
    const after = await instance({ COOKIE_SECRET: SECRET_B, COOKIE_SECRET_PREVIOUS: `${SECRET_X}, ${SECRET_A}` });
    const { name, value, callback: query } = await startLogin(before);
    const done = await callback(after, query, `${name}=${value}`);
    expect(done.status, await done.clone().text()).toBe(302);
    expect(done.headers.getSetCookie().some((line) => line.startsWith('__Host-auth_token='))).toBe(true);
    // New logins on the rotated instance are signed with B only.
    const fresh = await startLogin(after);
    const [flowId, signature] = fresh.value.split('.');
    expect(signature).toBe(hmac(flowId!, SECRET_B).toString('base64url'));
  });

  it('without COOKIE_SECRET_PREVIOUS, that login is refused', async () => {
    const instance = deployment();
    const before = await instance({ COOKIE_SECRET: SECRET_A });
    const after = await instance({ COOKIE_SECRET: SECRET_B });
    const { name, value, callback: query } = await startLogin(before);
    const refused = await callback(after, query, `${name}=${value}`);
    expect(refused.status).toBe(400);
    expect(after.logs.lines.at(-1)).toMatchObject({ reason: 'bad cookie signature' });
  });
});
