import { decodeJwt } from 'jose';
import { expect } from 'vitest';
import type { TestApp } from './app.js';
import { TestBrowser } from './browser.js';
import type { MockOidcProvider, MockUser } from './mock-oidc.js';

export interface SignedIn {
  readonly browser: TestBrowser;
  /** The token cookie's value. */
  readonly token: string;
  /** The token's session id. */
  readonly sid: string;
}

/**
 * A browser signed in at `gateway` through the real flow: `/login/<provider>`, the mock provider
 * playing `user`, the callback (302). `origin` is the gateway's PUBLIC_URL, `cookie` its token
 * cookie's name (`__Host-auth_token` under https without COOKIE_DOMAIN).
 */
export async function signInAt(
  gateway: Pick<TestApp, 'app'>,
  idp: MockOidcProvider,
  user: MockUser,
  options: { readonly origin: string; readonly cookie?: string; readonly provider?: string },
): Promise<SignedIn> {
  const { origin, cookie = '__Host-auth_token', provider = 'corp' } = options;
  const browser = new TestBrowser();
  const login = await browser.get(gateway.app, `${origin}/login/${provider}`);
  const done = await browser.get(gateway.app, `${origin}/callback/${provider}?${idp.authorize(login.headers.get('location')!, user)}`);
  expect(done.status).toBe(302);
  const token = (await browser.cookie(origin, cookie))!.value;
  return { browser, token, sid: decodeJwt(token).sid as string };
}
