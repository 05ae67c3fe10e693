import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { type ErrorCode, isPorteroError, PROVIDER_TIMEOUT, PROVIDER_UNAVAILABLE } from '../../src/errors.js';
import { endSessionUrl } from '../../src/flow/end-session.js';
import { type ConfiguredProvider, configureProviders, providerOptions } from '../../src/flow/provider-client.js';
import { TEST_COOKIE_SECRET } from '../support/app.js';
import { MockOidcProvider } from '../support/mock-oidc.js';

// Where RP-initiated logout sends the browser, from each provider's real discovery document (msw
// at the network edge, openid-client's real buildEndSessionUrl). test/flow/op-logout.test.ts
// follows such an address at a real OpenID provider and comes back.

const keycloakLike = await new MockOidcProvider('https://sso.example.test/realms/corp', {
  discovery: { end_session_endpoint: 'https://sso.example.test/realms/corp/protocol/openid-connect/logout?ui=compact' },
}).init();
// Google's discovery names no end_session_endpoint.
const googleLike = await new MockOidcProvider('https://accounts.example.test').init();
const plainHttp = await new MockOidcProvider('https://plain.example.test', {
  discovery: { end_session_endpoint: 'http://plain.example.test/logout' },
}).init();
const loopbackIssuerElsewhere = await new MockOidcProvider('http://127.0.0.1:5556', {
  discovery: { end_session_endpoint: 'http://idp.example.test/logout' },
}).init();
const loopback = await new MockOidcProvider('http://localhost:5557', {
  discovery: { end_session_endpoint: 'http://localhost:5557/logout' },
}).init();
const msw = setupServer(
  ...[keycloakLike, googleLike, plainHttp, loopbackIssuerElsewhere, loopback].flatMap((provider) => provider.handlers()),
);
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
afterEach(() => msw.resetHandlers());

const POST_LOGOUT = 'https://gateway.test/logout/done';

function configured(env: Record<string, string>): ConfiguredProvider {
  const config = parseConfig({ PUBLIC_URL: 'https://gateway.test', COOKIE_SECRET: TEST_COOKIE_SECRET, ...env });
  const provider = configureProviders(config.providers, providerOptions(config)).get('corp');
  if (!provider) throw new Error('no provider corp');
  return provider;
}

async function rejection(promise: Promise<unknown>, code: ErrorCode): Promise<Record<string, unknown>> {
  const error = await promise.then(
    (result) => expect.fail(`resolved: ${String(result)}`),
    (err: unknown) => err,
  );
  expect(isPorteroError(error, code), String(error)).toBe(true);
  return (error as { detail: Record<string, unknown> }).detail;
}

describe('endSessionUrl', () => {
  it('is the provider’s end_session_endpoint, its own query kept, with id_token_hint, post_logout_redirect_uri, state and client_id', async () => {
    const url = await endSessionUrl(configured(keycloakLike.env('corp')), {
      idTokenHint: 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln',
      postLogoutRedirectUri: POST_LOGOUT,
      state: 'st-1',
    });
    expect(url?.origin + (url?.pathname ?? '')).toBe('https://sso.example.test/realms/corp/protocol/openid-connect/logout');
    expect(Object.fromEntries(url?.searchParams ?? [])).toEqual({
      ui: 'compact',
      post_logout_redirect_uri: POST_LOGOUT,
      id_token_hint: 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln',
      state: 'st-1',
      client_id: keycloakLike.clientId,
    });
  });

  it('leaves out the hint and the state when there are none', async () => {
    const url = await endSessionUrl(configured(keycloakLike.env('corp')), { postLogoutRedirectUri: POST_LOGOUT });
    expect([...(url?.searchParams.keys() ?? [])].sort()).toEqual(['client_id', 'post_logout_redirect_uri', 'ui']);
  });

  it('is undefined for a provider whose discovery names no end_session_endpoint (Google), and for an OAuth 2.0 provider (GitHub)', async () => {
    expect(await endSessionUrl(configured(googleLike.env('corp')), { postLogoutRedirectUri: POST_LOGOUT })).toBeUndefined();
    const github = configured({ PROVIDER_CORP_TYPE: 'github', PROVIDER_CORP_CLIENT_ID: 'gh', PROVIDER_CORP_CLIENT_SECRET: 'gh-secret' });
    expect(await endSessionUrl(github, { postLogoutRedirectUri: POST_LOGOUT })).toBeUndefined();
  });

  it('allows plain http on a loopback host, as every endpoint of a provider there', async () => {
    const url = await endSessionUrl(configured(loopback.env('corp')), { postLogoutRedirectUri: POST_LOGOUT, idTokenHint: 'h' });
    expect(url?.href).toMatch(/^http:\/\/localhost:5557\/logout\?/);
  });

  it('refuses an end_session_endpoint on plain http off loopback, where the ID token would travel in the clear', async () => {
    for (const provider of [plainHttp, loopbackIssuerElsewhere]) {
      const detail = await rejection(
        endSessionUrl(configured(provider.env('corp')), { postLogoutRedirectUri: POST_LOGOUT, idTokenHint: 'h' }),
        PROVIDER_UNAVAILABLE,
      );
      expect(detail).toMatchObject({ provider: 'corp', reason: expect.stringContaining('neither https nor on a loopback host') });
    }
  });

  it('rejects as discovery does when the provider cannot be reached or does not answer in time', async () => {
    msw.use(http.get(`${keycloakLike.base}/.well-known/openid-configuration`, () => HttpResponse.error()));
    await rejection(endSessionUrl(configured(keycloakLike.env('corp')), { postLogoutRedirectUri: POST_LOGOUT }), PROVIDER_UNAVAILABLE);
    msw.use(http.get(`${keycloakLike.base}/.well-known/openid-configuration`, () => new Promise<never>(() => {})));
    const slow = configured({ ...keycloakLike.env('corp'), PROVIDER_TIMEOUT: '1' });
    await rejection(endSessionUrl(slow, { postLogoutRedirectUri: POST_LOGOUT }), PROVIDER_TIMEOUT);
  });

  it('throws a TypeError for a post_logout_redirect_uri that is no absolute URL (a caller’s mistake)', async () => {
    await expect(endSessionUrl(configured(keycloakLike.env('corp')), { postLogoutRedirectUri: '/logout/done' })).rejects.toThrow(TypeError);
  });
});
