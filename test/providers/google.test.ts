import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigError, parseConfig } from '../../src/config/parse.js';
import { startLogin } from '../../src/flow/login.js';
import { flowDepsFor } from '../support/flow.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';

// Google at the network edge: its real issuer, discovered as openid-client discovers it.
const google = await new MockOidcProvider('https://accounts.google.com').init();
const msw = setupServer(...google.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = { PROVIDER_GOOGLE_CLIENT_ID: google.clientId, PROVIDER_GOOGLE_CLIENT_SECRET: google.clientSecret };

providerContract('google', oidcHarness(google, 'google', ENV), msw);

describe('google provider', () => {
  it('needs only the client id and secret: the issuer is Google’s, found by discovery', async () => {
    const deps = flowDepsFor(ENV);
    const { authorizationUrl } = await startLogin(deps, 'google', undefined);
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe('https://accounts.google.com/authorize');
    expect(parseConfig(ENV).providers[0]).toMatchObject({ id: 'google', type: 'google', issuer: 'https://accounts.google.com' });
  });

  it('refuses to start without a client secret, and with a setting Google does not take', () => {
    const refused = (env: Record<string, string>) => {
      try {
        parseConfig(env);
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    };
    expect(refused({ PROVIDER_GOOGLE_CLIENT_ID: 'g' })).toEqual(['PROVIDER_GOOGLE_CLIENT_SECRET is required for Google']);
    expect(refused({ ...ENV, PROVIDER_GOOGLE_TOKEN_URL: 'https://example.com/token' })).toEqual([
      expect.stringMatching(
        /^PROVIDER_GOOGLE_TOKEN_URL is not a setting of Google \(its settings: PROVIDER_GOOGLE_CLIENT_ID, .*PROVIDER_GOOGLE_ISSUER\)$/,
      ),
    ]);
  });
});
