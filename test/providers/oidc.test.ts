import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { finishLogin, startLogin } from '../../src/flow/login.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';

const idp = await new MockOidcProvider('https://sso.corp.example').init();
const msw = setupServer(...idp.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
afterEach(() => msw.resetHandlers());

providerContract('oidc', oidcHarness(idp, 'corp', idp.env('corp')), msw);

describe('oidc provider', () => {
  it('completes the profile with userinfo claims the ID token lacks, the ID token winning where both speak', async () => {
    const deps = flowDepsFor(idp.env('corp'));
    const started = await startLogin(deps, 'corp', undefined);
    // The mock's userinfo answers the same claims; a name only in the ID token must be kept as it is.
    idp.idTokenOverride = (claims) => ({ ...claims, name: 'From The ID Token' });
    try {
      const callback = idp.authorize(started.authorizationUrl, {
        sub: 'u-1',
        claims: { name: 'From Userinfo', picture: 'https://sso.corp.example/u-1.png' },
      });
      const { profile } = await finishLogin(deps, 'corp', started.flowId, callback);
      expect(profile).toMatchObject({ subject: 'u-1', name: 'From The ID Token', picture: 'https://sso.corp.example/u-1.png' });
    } finally {
      idp.idTokenOverride = undefined;
    }
  });

  it('reports a userinfo endpoint that refuses the access token (WWW-Authenticate) as profile_unavailable', async () => {
    const deps = flowDepsFor(idp.env('corp'));
    const started = await startLogin(deps, 'corp', undefined);
    idp.userinfoChallenge = true;
    try {
      const error = await rejection(finishLogin(deps, 'corp', started.flowId, idp.authorize(started.authorizationUrl, { sub: 'u-2' })));
      expect(error).toMatchObject({
        code: 'profile_unavailable',
        detail: { provider: 'corp', provider_status: 401, oauth_error: 'invalid_token' },
      });
    } finally {
      idp.userinfoChallenge = false;
    }
  });

  it('refuses what a loopback issuer discovers off the machine over plain http: the client secret and the keys would travel in clear', async () => {
    const issuer = 'http://localhost:9999';
    const discovery = (endpointOrigin: string) =>
      http.get(`${issuer}/.well-known/openid-configuration`, () =>
        HttpResponse.json({
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${endpointOrigin}/token`,
          jwks_uri: `${endpointOrigin}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
        }),
      );
    const env = {
      PROVIDER_LOCAL_CLIENT_ID: 'c',
      PROVIDER_LOCAL_CLIENT_SECRET: 's',
      PROVIDER_LOCAL_TYPE: 'oidc',
      PROVIDER_LOCAL_ISSUER: issuer,
    };
    msw.use(discovery('http://idp-backend.corp.example'));
    const error = await rejection(startLogin(flowDepsFor(env), 'local', undefined));
    expect(error).toMatchObject({ code: 'provider_unavailable', detail: { provider: 'local' } });
    expect(error.detail.reason).toBe(
      'discovery names token_endpoint http://idp-backend.corp.example/token, which is neither https nor on a loopback host',
    );
    // The control: the same local IdP with its endpoints on loopback.
    msw.use(discovery(issuer));
    const { authorizationUrl } = await startLogin(flowDepsFor(env), 'local', undefined);
    expect(authorizationUrl.origin).toBe(issuer);
  });
});
