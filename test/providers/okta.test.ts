import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { startLogin } from '../../src/flow/login.js';
import { PRODUCTION_ENV } from '../support/app.js';
import { startupProblems } from '../support/config.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { MockOidcProvider, type MockUser } from '../support/mock-oidc.js';
import { providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';
import { idTokenWith, signInAt } from './oidc-sign-in.js';

// Okta at the network edge: the org authorization server and the custom one named default.
const org = await new MockOidcProvider('https://acme.okta.com').init();
const custom = await new MockOidcProvider('https://acme.okta.com/oauth2/default').init();
const msw = setupServer(...org.handlers(), ...custom.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = {
  PROVIDER_OKTA_CLIENT_ID: org.clientId,
  PROVIDER_OKTA_CLIENT_SECRET: org.clientSecret,
  PROVIDER_OKTA_ISSUER: org.issuer,
};
const CUSTOM = { ...ENV, PROVIDER_OKTA_ISSUER: custom.issuer };

providerContract('okta', oidcHarness(org, 'okta', ENV), msw);

/**
 * Okta's documented answers (developer.okta.com, "Customize tokens returned from Okta with a groups
 * claim"): the code flow's ID token is thin (`ver`, `jti`, `amr`, `idp`, `auth_time` and, once the
 * app's groups claim filter is set and `groups` asked, `groups`); the profile comes from userinfo.
 */
const GRACE: MockUser = {
  sub: '00uixa271s6x7qt8I0h7',
  claims: {
    name: 'Grace Hopper',
    preferred_username: 'grace@corp.example',
    email: 'grace@corp.example',
    email_verified: true,
    locale: 'en_US',
    zoneinfo: 'America/Los_Angeles',
  },
};
const THIN_ID_TOKEN = idTokenWith([], {
  ver: 1,
  jti: 'ID.LPQaDhnBhZ9wy-B5BvamTBs7E2C8EzXuLA5P8Uyx-IE',
  amr: ['pwd'],
  idp: '00oixa26ycdNcX0VT0h7',
  auth_time: 1_700_000_000,
  groups: ['Everyone', 'IT'],
});
const allowing = (groups: string) => ({ ...ENV, PROVIDER_OKTA_ALLOWED_GROUPS: groups });

describe('okta provider', () => {
  it('takes the org or a custom authorization server as _ISSUER, a trailing slash dropped (Okta publishes none)', () => {
    const issuer = (value: string) => (parseConfig({ ...ENV, PROVIDER_OKTA_ISSUER: value }).providers[0] as { issuer?: string }).issuer;
    expect(issuer('https://acme.okta.com')).toBe('https://acme.okta.com');
    expect(issuer('https://acme.okta.com/oauth2/default/')).toBe('https://acme.okta.com/oauth2/default');
    expect(issuer('https://login.corp.example/oauth2/aus1a2b3c4d5E6f7g8h9')).toBe('https://login.corp.example/oauth2/aus1a2b3c4d5E6f7g8h9');
  });

  it('signs a member of an allowed group in: the exact profile, the thin ID token completed by userinfo', async () => {
    const { profile } = await signInAt(org, 'okta', allowing('IT'), GRACE, THIN_ID_TOKEN);
    expect(profile).toEqual({
      subject: '00uixa271s6x7qt8I0h7',
      email: 'grace@corp.example',
      emailVerified: true,
      name: 'Grace Hopper',
      preferredUsername: 'grace@corp.example',
      groups: ['IT'],
    });
  });

  it('refuses a user in none of the allowed groups, and one whose token carries no groups (no groups claim configured)', async () => {
    const denied = await rejection(signInAt(org, 'okta', allowing('Finance'), GRACE, THIN_ID_TOKEN));
    expect(denied).toMatchObject({ code: 'not_allowed', detail: { rule: 'PROVIDER_OKTA_ALLOWED_GROUPS' } });
    const unconfigured = await rejection(signInAt(org, 'okta', allowing('IT'), GRACE, idTokenWith([])));
    expect(unconfigured).toMatchObject({ code: 'not_allowed', detail: { reason: 'in no allowed group' } });
  });

  it('asks the groups scope only with _ALLOWED_GROUPS or _CLAIMS=groups (a custom server without that scope refuses it); _SCOPES replaces either', async () => {
    const scope = async (env: Record<string, string>) =>
      (await startLogin(flowDepsFor(env), 'okta', undefined)).authorizationUrl.searchParams.get('scope');
    expect(await scope(ENV)).toBe('openid profile email');
    expect(await scope({ ...ENV, PROVIDER_OKTA_CLAIMS: 'department' })).toBe('openid profile email');
    expect(await scope(allowing('IT'))).toBe('openid profile email groups');
    expect(await scope({ ...ENV, PROVIDER_OKTA_CLAIMS: 'groups' })).toBe('openid profile email groups');
    expect(await scope({ ...allowing('IT'), PROVIDER_OKTA_SCOPES: 'openid email' })).toBe('openid email');
  });

  it('signs in at a custom authorization server', async () => {
    const { profile } = await signInAt(custom, 'okta', { ...CUSTOM, PROVIDER_OKTA_ALLOWED_GROUPS: 'it' }, GRACE, THIN_ID_TOKEN);
    expect(profile.groups).toEqual(['it']);
  });

  it('refuses to start without _ISSUER, or with an address that is not an issuer of Okta', () => {
    const { PROVIDER_OKTA_ISSUER: _, ...client } = ENV;
    expect(startupProblems(client)).toEqual(['PROVIDER_OKTA_ISSUER is required for Okta (OIDC discovery)']);
    const problems = (value: string) => startupProblems({ ...ENV, PROVIDER_OKTA_ISSUER: value });
    expect(problems('https://acme.okta.com/oauth2/v1')).toEqual([
      'PROVIDER_OKTA_ISSUER names the endpoints of the org authorization server (/oauth2/v1); its issuer is https://acme.okta.com',
    ]);
    expect(problems('https://acme.okta.com/app/acme_portero_1/exk1a2b3c4')).toEqual([
      'PROVIDER_OKTA_ISSUER is https://<org>.okta.com (the org authorization server) or https://<org>.okta.com/oauth2/<server id> (a custom one, like default), not https://acme.okta.com/app/acme_portero_1/exk1a2b3c4',
    ]);
    expect(problems('https://acme-admin.okta.com')).toEqual([
      'PROVIDER_OKTA_ISSUER names the Admin Console (acme-admin.okta.com); the issuer is acme.okta.com',
    ]);
    // A custom domain of that shape is the operator's own.
    expect(problems('https://sso-admin.corp.example')).toEqual([]);
  });

  it('starts in production without an access rule: a corporate IdP’s users are the company’s', () => {
    expect(startupProblems({ ...PRODUCTION_ENV, ...ENV })).toEqual([]);
  });
});
