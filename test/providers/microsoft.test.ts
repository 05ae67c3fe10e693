import { setupServer } from 'msw/node';
import type { JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigError, parseConfig } from '../../src/config/parse.js';
import { finishLogin, startLogin } from '../../src/flow/login.js';
import { defineProvider, idTokenRefused, presets } from '../../src/providers/index.js';
import { microsoft } from '../../src/providers/microsoft.js';
import { type IssuerSettings, readIssuer } from '../../src/providers/settings.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';

// Microsoft Entra ID at the network edge, one tenant's issuer, as the operator names it.
const TENANT = '3f2b6c1e-8d4a-4e7b-9c2d-5a1f0e6b7c8d';
const entra = await new MockOidcProvider(`https://login.microsoftonline.com/${TENANT}/v2.0`).init();
// The multi-tenant endpoint: its discovery names a templated issuer, and it sends no `iss` back.
const common = await new MockOidcProvider('https://login.microsoftonline.com/common/v2.0', {
  discoveryIssuer: 'https://login.microsoftonline.com/{tenantid}/v2.0',
  sendsIss: false,
}).init();
const msw = setupServer(...entra.handlers(), ...common.handlers());
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

  it.each(['common', 'organizations', 'consumers', 'Common', '9188040d-6c67-4c5b-b112-36a304b66dad'])(
    'refuses to start on the multi-tenant endpoint %s, where every Entra tenant or every personal account could sign in',
    (tenant) => {
      const problems = (() => {
        try {
          parseConfig({ ...ENV, PROVIDER_MICROSOFT_ISSUER: `https://login.microsoftonline.com/${tenant}/v2.0` });
        } catch (err) {
          return (err as ConfigError).problems;
        }
        return [];
      })();
      expect(problems).toEqual([
        expect.stringMatching(new RegExp(`^PROVIDER_MICROSOFT_ISSUER names the multi-tenant endpoint "${tenant}"`)),
      ]);
    },
  );
});

describe('an Entra ID multi-tenant issuer (a template openid-client fills in from the token’s tid)', () => {
  const tenantToken =
    (tid: string, iss = `https://login.microsoftonline.com/${tid}/v2.0`) =>
    (claims: JWTPayload) => ({ ...claims, iss, tid });
  afterEach(() => {
    common.idTokenOverride = undefined;
  });

  it('is refused for a preset without a tenant policy: a token of any tenant would validate', async () => {
    const deps = flowDepsFor({ PROVIDER_CORP_CLIENT_ID: common.clientId, PROVIDER_CORP_TYPE: 'oidc', PROVIDER_CORP_ISSUER: common.issuer });
    const error = await rejection(startLogin(deps, 'corp', undefined));
    expect(error.code).toBe('provider_unavailable');
    expect(error.detail.reason).toMatch(/^the issuer is a template \(https:\/\/login\.microsoftonline\.com\/\{tenantid\}\/v2\.0\)/);
  });

  it('works for a preset whose checkIdToken chooses the tenants: openid-client checks iss against the token’s own tid', async () => {
    const oneTenant = defineProvider<IssuerSettings>({
      ...microsoft,
      type: 'one-tenant',
      readSettings: (reader) => readIssuer(reader),
      checkIdToken(claims) {
        if (claims.tid !== TENANT) throw idTokenRefused(`tenant ${String(claims.tid)}`);
      },
    });
    const env = {
      PROVIDER_ONE_TENANT_CLIENT_ID: common.clientId,
      PROVIDER_ONE_TENANT_CLIENT_SECRET: common.clientSecret,
      PROVIDER_ONE_TENANT_ISSUER: common.issuer,
    };
    const deps = flowDepsFor(env, { ...presets, 'one-tenant': oneTenant });
    const signIn = async () => {
      const started = await startLogin(deps, 'one-tenant', undefined);
      return finishLogin(deps, 'one-tenant', started.flowId, common.authorize(started.authorizationUrl, { sub: 'entra-user' }));
    };

    common.idTokenOverride = tenantToken(TENANT);
    expect((await signIn()).profile.subject).toBe('entra-user');
    // Another tenant's valid token: openid-client accepts it, the preset's policy does not.
    common.idTokenOverride = tenantToken('00000000-0000-0000-0000-000000000000');
    expect(await rejection(signIn())).toMatchObject({
      code: 'id_token_invalid',
      detail: { reason: 'tenant 00000000-0000-0000-0000-000000000000' },
    });
    // A token whose iss is not its own tid's: refused by openid-client before the policy runs.
    common.idTokenOverride = tenantToken(TENANT, 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0');
    expect(await rejection(signIn())).toMatchObject({
      code: 'id_token_invalid',
      detail: { oauth_code: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' },
    });
  });
});
