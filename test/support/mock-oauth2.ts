import { HttpResponse, http, type JsonBodyType } from 'msw';
import { expect } from 'vitest';
import { CodeBook } from './oauth-server.js';

/** A plain OAuth 2.0 server (no discovery, no ID token) at the network edge. */
export class MockOAuth2Server {
  me: JsonBodyType = {};
  meStatus = 200;
  /** Makes the token endpoint refuse every code with this OAuth error. */
  tokenFailure: string | undefined;
  readonly tokenForms: URLSearchParams[] = [];
  readonly #book = new CodeBook<true>();

  constructor(readonly origin: string) {}

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PROVIDER_SSO_CLIENT_ID: 'sso-client',
      PROVIDER_SSO_TYPE: 'oauth2',
      PROVIDER_SSO_AUTHORIZATION_URL: `${this.origin}/oauth/authorize`,
      PROVIDER_SSO_TOKEN_URL: `${this.origin}/oauth/token`,
      PROVIDER_SSO_USERINFO_URL: `${this.origin}/api/me`,
      ...extra,
    };
  }

  authorize(authorizationUrl: URL): URLSearchParams {
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe(`${this.origin}/oauth/authorize`);
    return this.#book.issue(authorizationUrl, true);
  }

  handlers() {
    return [
      http.post(`${this.origin}/oauth/token`, async ({ request }) => {
        const form = new URLSearchParams(await request.text());
        this.tokenForms.push(form);
        if (this.tokenFailure) return HttpResponse.json({ error: this.tokenFailure }, { status: 400 });
        if (!this.#book.redeem(form)) return HttpResponse.json({ error: 'invalid_grant' }, { status: 400 });
        const token = this.#book.accessTokenFor(true);
        return HttpResponse.json({ access_token: token, token_type: 'Bearer', expires_in: 3600 });
      }),
      http.get(`${this.origin}/api/me`, ({ request }) => {
        if (!this.#book.bearerOf(request)) {
          return HttpResponse.json({ error: 'invalid_token' }, { status: 401 });
        }
        return HttpResponse.json(this.me, { status: this.meStatus });
      }),
    ];
  }
}
