import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigError, parseConfig } from '../../src/config/parse.js';
import { finishLogin, startLogin } from '../../src/flow/login.js';
import { flowDepsFor } from '../support/flow.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';

// Microsoft Entra ID at the network edge, one tenant's issuer, as the operator names it.
const TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const entra = await new MockOidcProvider(`https://login.microsoftonline.com/${TENANT}/v2.0`).init();
const msw = setupServer(...entra.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = {
  PROVIDER_MICROSOFT_CLIENT_ID: entra.clientId,
  PROVIDER_MICROSOFT_CLIENT_SECRET: entra.clientSecret,
  PROVIDER_MICROSOFT_ISSUER: entra.issuer,
};

providerContract('microsoft', oidcHarness(entra, 'microsoft', ENV), msw);

describe('microsoft provider', () => {
  it('refuses to start without the tenant’s issuer, or without a client secret', () => {
    const problems = (() => {
      try {
        parseConfig({ PROVIDER_MICROSOFT_CLIENT_ID: 'm' });
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    })();
    expect(problems).toEqual([
      'PROVIDER_MICROSOFT_CLIENT_SECRET is required for Microsoft',
      'PROVIDER_MICROSOFT_ISSUER is required for Microsoft (OIDC discovery)',
    ]);
  });

  it('refuses an ID token issued by another tenant', async () => {
    const deps = flowDepsFor(ENV);
    const started = await startLogin(deps, 'microsoft', undefined);
    entra.idTokenOverride = (claims) => ({ ...claims, iss: 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0' });
    try {
      const callback = entra.authorize(started.authorizationUrl, { sub: 'AAAAA-entra-sub' });
      await expect(finishLogin(deps, 'microsoft', started.flowId, callback)).rejects.toMatchObject({ code: 'id_token_invalid' });
    } finally {
      entra.idTokenOverride = undefined;
    }
  });
});
