import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, fromPeer, memoryStore } from '../support/app.js';
import { MockOidcProvider } from '../support/mock-oidc.js';

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

describe('every response', () => {
  it('forbids framing, sends no Referer, loads nothing from elsewhere, and pins https (RFC 9700 4.2, 4.16)', async () => {
    const gateway = await buildTestApp({ store: memoryStore(), env: idp.env('corp') });
    for (const path of ['/', '/login/corp', '/callback/corp?state=x&code=y', '/nowhere', '/favicon.svg']) {
      const response = await gateway.app.request(`https://gateway.test${path}`);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("form-action 'self'");
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it("lets a sign-out form's redirect reach the allowed origins and the providers' own for their logout, nowhere else", async () => {
    const gateway = await buildTestApp({
      store: memoryStore(),
      env: { ...idp.env('corp'), ALLOWED_REDIRECTS: 'https://app.example.com,https://*.example.org' },
    });
    const csp = (await gateway.app.request('https://gateway.test/')).headers.get('content-security-policy') ?? '';
    expect(csp).toContain("form-action 'self' https://app.example.com https://*.example.org https://idp.example.test;");
    const local = await buildTestApp({ store: memoryStore(), env: { ...idp.env('corp'), PROVIDER_CORP_LOGOUT: 'local' } });
    // Without ALLOWED_REDIRECTS, PUBLIC_URL's origin is the one allowed; a provider whose logout stays local adds none.
    expect((await local.app.request('https://gateway.test/')).headers.get('content-security-policy')).toContain(
      "form-action 'self' https://gateway.test;",
    );
  });

  it("never lets a provider's issuer add a directive: an origin that is no CSP source is left out of form-action", async () => {
    const gateway = await buildTestApp({
      store: memoryStore(),
      env: { ...idp.env('corp'), PROVIDER_CORP_ISSUER: 'https://idp.example.test;sandbox' },
    });
    const csp = (await gateway.app.request('https://gateway.test/')).headers.get('content-security-policy') ?? '';
    expect(csp).not.toContain('sandbox');
    expect(csp).toContain("form-action 'self' https://gateway.test;");
  });

  it('builds the redirect URI from PUBLIC_URL alone, never from Host or X-Forwarded-Host (RFC 9700 4.1)', async () => {
    const gateway = await buildTestApp({ store: memoryStore(), env: { ...idp.env('corp'), TRUSTED_PROXIES: '10.0.0.0/8' } });
    const response = await gateway.app.request(
      'https://evil.example/login/corp',
      {
        headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' },
      },
      fromPeer('10.0.0.2'),
    );
    expect(response.status).toBe(302);
    const authorization = new URL(response.headers.get('location') ?? '');
    expect(authorization.searchParams.get('redirect_uri')).toBe('https://gateway.test/callback/corp');
  });
});
