import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigError, parseConfig } from '../../src/config/parse.js';
import type { PorteroError } from '../../src/errors.js';
import { finishLogin, startLogin } from '../../src/flow/login.js';
import { microsoft } from '../../src/providers/microsoft.js';
import { PRODUCTION_ENV } from '../support/app.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import {
  CONSUMERS_TENANT,
  ENTRA_SUB,
  entraClaims,
  entraEndpoint,
  entraIssuer,
  multiTenantEndpoint,
  OTHER_TENANT,
  TENANT,
} from '../support/mock-entra.js';
import type { MockOidcProvider } from '../support/mock-oidc.js';
import type { ContractUser, ProviderHarness } from './contract.js';
import { providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';

// Microsoft Entra ID at the network edge: one tenant's endpoint (by id, and by a verified domain,
// whose discovery names the id's issuer), and the three multi-tenant ones.
const entra = await entraEndpoint(TENANT);
const byDomain = await entraEndpoint('contoso.onmicrosoft.com', entraIssuer(TENANT));
const common = await multiTenantEndpoint('common');
const organizations = await multiTenantEndpoint('organizations');
const consumers = await entraEndpoint('consumers', entraIssuer(CONSUMERS_TENANT));
// `common` spelt so that the ISSUER check does not read it as such; Entra's discovery still answers the template.
const encodedCommon = await entraEndpoint('%63ommon', entraIssuer('{tenantid}'));
// A domain Entra takes for the consumers tenant (its discovery names that tenant's issuer).
const consumersAlias = await entraEndpoint('live.com', entraIssuer(CONSUMERS_TENANT));
const msw = setupServer(
  ...[entra, byDomain, common, organizations, consumers, encodedCommon, consumersAlias].flatMap((idp) => idp.handlers()),
);
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const client = { PROVIDER_MICROSOFT_CLIENT_ID: entra.clientId, PROVIDER_MICROSOFT_CLIENT_SECRET: entra.clientSecret };
const ENV = { ...client, PROVIDER_MICROSOFT_TENANT: TENANT };
const COMMON = { ...client, PROVIDER_MICROSOFT_TENANT: 'common' };

/** The contract's user as Entra says them: the address in `email`, verified by `xms_edov` (never `email_verified`). */
function entraHarness(idp: MockOidcProvider, env: Record<string, string>, tid: string): ProviderHarness {
  return {
    ...oidcHarness(idp, 'microsoft', env),
    approve: (url, user: ContractUser) =>
      idp.authorize(url, {
        sub: user.subject,
        claims: entraClaims(tid, { email: user.email, xms_edov: true, name: user.name, preferred_username: user.username }),
      }),
  };
}

providerContract('microsoft (one tenant)', entraHarness(entra, ENV, TENANT), msw);
providerContract('microsoft (common)', entraHarness(common, COMMON, OTHER_TENANT), msw);

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    parseConfig(env);
  } catch (err) {
    return (err as ConfigError).problems;
  }
  return [];
}

async function signIn(env: Record<string, string>, idp: MockOidcProvider, claims: Record<string, unknown>) {
  const deps = flowDepsFor(env);
  const started = await startLogin(deps, 'microsoft', undefined);
  return finishLogin(deps, 'microsoft', started.flowId, idp.authorize(started.authorizationUrl, { sub: ENTRA_SUB, claims }));
}

describe('microsoft settings', () => {
  it('refuses to start without a tenant (saying what to set) or without a client secret', () => {
    expect(problemsOf({ PROVIDER_MICROSOFT_CLIENT_ID: 'm' })).toEqual([
      'PROVIDER_MICROSOFT_CLIENT_SECRET is required for Microsoft',
      "PROVIDER_MICROSOFT_TENANT is required for Microsoft: your tenant id or verified domain, or common, organizations or consumers with an access rule (or PROVIDER_MICROSOFT_ISSUER, one tenant's issuer)",
    ]);
  });

  it('refuses both TENANT and ISSUER, naming both', () => {
    expect(problemsOf({ ...ENV, PROVIDER_MICROSOFT_ISSUER: entra.issuer })).toEqual([
      'PROVIDER_MICROSOFT_TENANT and PROVIDER_MICROSOFT_ISSUER are both set: set one (TENANT builds the issuer)',
    ]);
  });

  it.each([
    ['common', entraIssuer('common'), 'common'],
    ['Organizations', entraIssuer('organizations'), 'organizations'],
    ['consumers', entraIssuer('consumers'), 'consumers'],
    [CONSUMERS_TENANT.toUpperCase(), entraIssuer('consumers'), 'consumers'],
    [TENANT.toUpperCase(), entraIssuer(TENANT), undefined],
    ['Contoso.onmicrosoft.com', entraIssuer('contoso.onmicrosoft.com'), undefined],
  ])('reads TENANT=%s as the issuer %s', (tenant, issuer, multiTenant) => {
    const [settings] = parseConfig({ ...client, PROVIDER_MICROSOFT_TENANT: tenant }).providers;
    expect(settings).toMatchObject({ issuer });
    expect((settings as { multiTenant?: string }).multiTenant).toBe(multiTenant);
  });

  it.each(['contoso', 'https://login.microsoftonline.com/common/v2.0', 'common/v2.0'])('refuses TENANT=%s', (tenant) => {
    expect(problemsOf({ ...client, PROVIDER_MICROSOFT_TENANT: tenant })).toEqual([
      `PROVIDER_MICROSOFT_TENANT is not a tenant: ${JSON.stringify(tenant)} (common, organizations, consumers, a tenant id, or a verified domain such as contoso.onmicrosoft.com)`,
    ]);
  });

  it.each(['common', 'organizations', 'consumers', 'Common', CONSUMERS_TENANT])(
    'keeps ISSUER to one tenant: the multi-tenant endpoint %s is refused there, pointing to TENANT',
    (tenant) => {
      expect(problemsOf({ ...client, PROVIDER_MICROSOFT_ISSUER: entraIssuer(tenant) })).toEqual([
        expect.stringMatching(
          new RegExp(
            `^PROVIDER_MICROSOFT_ISSUER names the multi-tenant endpoint "${tenant.toLowerCase()}".*set PROVIDER_MICROSOFT_TENANT=`,
          ),
        ),
      ]);
    },
  );

  it('refuses group names with a multi-tenant TENANT (any tenant can name a group so), and groups for personal accounts', () => {
    expect(problemsOf({ ...COMMON, PROVIDER_MICROSOFT_ALLOWED_GROUPS: `admins,${TENANT}` })).toEqual([
      'PROVIDER_MICROSOFT_ALLOWED_GROUPS must list group object ids with a multi-tenant PROVIDER_MICROSOFT_TENANT (another tenant can name a group anything): admins',
    ]);
    expect(problemsOf({ ...ENV, PROVIDER_MICROSOFT_ALLOWED_GROUPS: 'admins' })).toEqual([]);
    expect(problemsOf({ ...client, PROVIDER_MICROSOFT_TENANT: 'consumers', PROVIDER_MICROSOFT_ALLOWED_GROUPS: TENANT })).toEqual([
      'PROVIDER_MICROSOFT_ALLOWED_GROUPS cannot pass with TENANT=consumers: personal Microsoft accounts are in no groups',
    ]);
  });
});

// `wids` are role template ids, the same in every tenant (Global Administrator is 62e90394-…); app
// roles are the app's, assigned by each tenant's own admin. Anyone who makes a tenant has both.
it.each(['wids', 'roles'])('refuses GROUPS_CLAIM=%s with a multi-tenant TENANT: ids that are no group, which any tenant gives', (claim) => {
  expect(
    problemsOf({
      ...COMMON,
      PROVIDER_MICROSOFT_GROUPS_CLAIM: claim,
      PROVIDER_MICROSOFT_ALLOWED_GROUPS: '62e90394-69f5-4237-9190-012177145e10',
    }),
  ).toEqual([expect.stringContaining(`PROVIDER_MICROSOFT_GROUPS_CLAIM=${claim}`)]);
  expect(problemsOf({ ...ENV, PROVIDER_MICROSOFT_GROUPS_CLAIM: claim, PROVIDER_MICROSOFT_ALLOWED_GROUPS: 'admins' })).toEqual([]);
});

describe('microsoft sign-in, one tenant', () => {
  // openid-client takes whatever issuer discovery names at login.microsoftonline.com, the template
  // included, and then any tenant's token: one tenant's settings must not end up there.
  it('refuses an ISSUER whose discovery names the multi-tenant template: any tenant would sign in, and no rule was asked', async () => {
    const env = { ...client, PROVIDER_MICROSOFT_ISSUER: entraIssuer('%63ommon') };
    expect(problemsOf({ ...PRODUCTION_ENV, ...env })).toEqual([]);
    expect(await rejection(signIn(env, encodedCommon, entraClaims(OTHER_TENANT)))).toMatchObject({ code: 'provider_unavailable' });
  });

  it('refuses a personal account at one tenant’s settings (a domain Entra reads as the consumers tenant)', async () => {
    const env = { ...client, PROVIDER_MICROSOFT_TENANT: 'live.com' };
    const claims = entraClaims(CONSUMERS_TENANT, { email: 'abe@outlook.com', xms_edov: true });
    expect(await rejection(signIn(env, consumersAlias, claims))).toMatchObject({ code: 'id_token_invalid' });
  });

  it('yields the profile from the ID token: sub, the email xms_edov verifies, name, preferred_username', async () => {
    const finished = await signIn(ENV, entra, entraClaims(TENANT, { email: 'abe@contoso.com', xms_edov: true }));
    expect(finished.profile).toEqual({
      subject: ENTRA_SUB,
      email: 'abe@contoso.com',
      emailVerified: true,
      name: 'Abe Lincoln',
      preferredUsername: 'AbeLi@contoso.com',
    });
  });

  it('works with a verified domain as TENANT, whose discovery names the tenant id’s issuer', async () => {
    const finished = await signIn({ ...client, PROVIDER_MICROSOFT_TENANT: 'contoso.onmicrosoft.com' }, byDomain, entraClaims(TENANT));
    expect(finished.profile.subject).toBe(ENTRA_SUB);
  });

  it('keeps today’s ISSUER form working', async () => {
    const finished = await signIn({ ...client, PROVIDER_MICROSOFT_ISSUER: entra.issuer }, entra, entraClaims(TENANT));
    expect(finished.profile.subject).toBe(ENTRA_SUB);
  });

  it('refuses an ID token of another tenant', async () => {
    const error = await rejection(signIn(ENV, entra, entraClaims(OTHER_TENANT)));
    expect(error).toMatchObject({ code: 'id_token_invalid', detail: { oauth_code: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' } });
  });
});

describe('microsoft email (nOAuth): verified only when xms_edov says so', () => {
  it.each([
    [true, true],
    ['1', true],
    [1, true],
    ['true', true],
    [false, false],
    ['0', false],
    [0, false],
    [undefined, false],
  ])('xms_edov %j: emailVerified %s', async (xmsEdov, verified) => {
    const claims = entraClaims(TENANT, { email: 'abe@contoso.com', ...(xmsEdov === undefined ? {} : { xms_edov: xmsEdov }) });
    expect((await signIn(ENV, entra, claims)).profile).toMatchObject({ email: 'abe@contoso.com', emailVerified: verified });
  });

  it('does not believe email_verified: an email rule refuses an address only it vouches for', async () => {
    const claims = entraClaims(TENANT, { email: 'ceo@bank.example', email_verified: true });
    expect((await signIn(ENV, entra, claims)).profile.emailVerified).toBe(false);
    const rule = { ...ENV, PROVIDER_MICROSOFT_ALLOWED_EMAIL_DOMAINS: 'bank.example' };
    expect(await rejection(signIn(rule, entra, claims))).toMatchObject({
      code: 'not_allowed',
      detail: { rule: 'PROVIDER_MICROSOFT_ALLOWED_EMAIL_DOMAINS', reason: 'no verified email' },
    });
    const verified = await signIn(rule, entra, { ...claims, xms_edov: true });
    expect(verified.profile.email).toBe('ceo@bank.example');
  });

  it('never takes preferred_username as the email', async () => {
    const claims = entraClaims(TENANT, { preferred_username: 'abe@bank.example' });
    const finished = await signIn(ENV, entra, claims);
    expect(finished.profile).toMatchObject({ email: undefined, emailVerified: false, preferredUsername: 'abe@bank.example' });
    const rule = { ...ENV, PROVIDER_MICROSOFT_ALLOWED_EMAIL_DOMAINS: 'bank.example' };
    expect(await rejection(signIn(rule, entra, claims))).toMatchObject({ code: 'not_allowed', account: 'abe@bank.example' });
  });
});

describe('microsoft multi-tenant endpoints: the issuer is checked against the token’s tid', () => {
  it('common: a token of any tenant signs in, with its own tenant’s issuer', async () => {
    for (const tid of [TENANT, OTHER_TENANT, CONSUMERS_TENANT]) {
      expect((await signIn(COMMON, common, entraClaims(tid))).profile.subject, tid).toBe(ENTRA_SUB);
    }
  });

  it('common: refuses a token whose iss is another tenant’s than its tid, or that has no tid', async () => {
    const forged = entraClaims(OTHER_TENANT, { iss: entraIssuer(TENANT) });
    expect(await rejection(signIn(COMMON, common, forged))).toMatchObject({ code: 'id_token_invalid' });
    const { tid: _tid, ...noTid } = entraClaims(TENANT);
    expect(await rejection(signIn(COMMON, common, noTid))).toMatchObject({ code: 'id_token_invalid' });
  });

  it('checks iss against tid itself, not only through openid-client', () => {
    /** Why the preset's policy refuses these claims, or undefined when it lets them through. */
    const refusal = (claims: Record<string, unknown>, multiTenant: 'common' | 'consumers' = 'common') => {
      try {
        microsoft.checkIdToken?.(claims, { multiTenant, issuer: entraIssuer(multiTenant) } as never);
      } catch (err) {
        return (err as PorteroError).detail.reason;
      }
      return undefined;
    };
    expect(refusal(entraClaims(TENANT))).toBeUndefined();
    expect(refusal(entraClaims(OTHER_TENANT, { iss: entraIssuer(TENANT) }))).toBe(
      `iss is not the issuer of its own tenant ${OTHER_TENANT}`,
    );
    expect(refusal(entraClaims('not-a-guid'))).toBe('an Entra ID token without a tenant id (tid)');
    expect(refusal(entraClaims(TENANT), 'consumers')).toBe(`tenant ${TENANT} at consumers`);
  });

  it('organizations: a work account signs in, a personal account (the consumers tenant) is refused', async () => {
    const env = { ...client, PROVIDER_MICROSOFT_TENANT: 'organizations' };
    expect((await signIn(env, organizations, entraClaims(TENANT))).profile.subject).toBe(ENTRA_SUB);
    expect(await rejection(signIn(env, organizations, entraClaims(CONSUMERS_TENANT)))).toMatchObject({
      code: 'id_token_invalid',
      detail: { reason: 'a personal account at organizations' },
    });
  });

  it('consumers: a personal account signs in, a work account is refused', async () => {
    const env = { ...client, PROVIDER_MICROSOFT_TENANT: 'consumers' };
    expect((await signIn(env, consumers, entraClaims(CONSUMERS_TENANT))).profile.subject).toBe(ENTRA_SUB);
    expect(await rejection(signIn(env, consumers, entraClaims(TENANT)))).toMatchObject({ code: 'id_token_invalid' });
  });

  it('a preset without a tenant policy cannot use the templated issuer: a token of any tenant would validate', async () => {
    const deps = flowDepsFor({ PROVIDER_CORP_CLIENT_ID: common.clientId, PROVIDER_CORP_TYPE: 'oidc', PROVIDER_CORP_ISSUER: common.issuer });
    const error = await rejection(startLogin(deps, 'corp', undefined));
    expect(error.code).toBe('provider_unavailable');
    expect(error.detail.reason).toMatch(/^the issuer is a template \(https:\/\/login\.microsoftonline\.com\/\{tenantid\}\/v2\.0\)/);
  });
});

describe('microsoft in production: who may sign in', () => {
  const production = (env: Record<string, string>) => problemsOf({ ...PRODUCTION_ENV, ...env });

  it('one tenant is corporate: it starts without a rule', () => {
    expect(production(ENV)).toEqual([]);
  });

  it.each(['common', 'organizations'])('%s is public: refused without a rule, naming them', (tenant) => {
    expect(production({ ...client, PROVIDER_MICROSOFT_TENANT: tenant })).toEqual([
      'provider microsoft lets every account of a public provider sign in: set ALLOWED_EMAIL_DOMAINS, PROVIDER_MICROSOFT_ALLOWED_GROUPS, PROVIDER_MICROSOFT_ALLOWED_EMAIL_DOMAINS, PROVIDER_MICROSOFT_ALLOWED_EMAILS, or PROVIDER_MICROSOFT_ALLOW_ALL=true to let everyone in',
    ]);
  });

  it('consumers is public too, and its refusal names no group rule: personal accounts are in none', () => {
    expect(production({ ...client, PROVIDER_MICROSOFT_TENANT: 'consumers' })).toEqual([
      'provider microsoft lets every account of a public provider sign in: set ALLOWED_EMAIL_DOMAINS, PROVIDER_MICROSOFT_ALLOWED_EMAIL_DOMAINS, PROVIDER_MICROSOFT_ALLOWED_EMAILS, or PROVIDER_MICROSOFT_ALLOW_ALL=true to let everyone in',
    ]);
  });

  it.each<Record<string, string>>([
    { PROVIDER_MICROSOFT_ALLOWED_EMAIL_DOMAINS: 'contoso.com' },
    { PROVIDER_MICROSOFT_ALLOWED_GROUPS: TENANT },
    { ALLOWED_EMAIL_DOMAINS: 'contoso.com' },
    { PROVIDER_MICROSOFT_ALLOW_ALL: 'true' },
  ])('common starts with %j', (rule) => {
    expect(production({ ...COMMON, ...rule })).toEqual([]);
  });
});
