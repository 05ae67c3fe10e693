import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { PRODUCTION_ENV } from '../support/app.js';
import { startupProblems } from '../support/config.js';
import { rejection } from '../support/flow.js';
import { MockOidcProvider, type MockUser } from '../support/mock-oidc.js';
import { providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';
import { signInAt } from './oidc-sign-in.js';

// Keycloak at the network edge: one realm's issuer, <server>/realms/<realm>.
const realm = await new MockOidcProvider('https://sso.corp.example/realms/acme').init();
const msw = setupServer(...realm.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = {
  PROVIDER_KEYCLOAK_CLIENT_ID: realm.clientId,
  PROVIDER_KEYCLOAK_CLIENT_SECRET: realm.clientSecret,
  PROVIDER_KEYCLOAK_URL: 'https://sso.corp.example',
  PROVIDER_KEYCLOAK_REALM: 'acme',
};

providerContract('keycloak', oidcHarness(realm, 'keycloak', ENV), msw);

/**
 * A Keycloak ID token's claims (server administration guide, "OIDC token and SAML assertion
 * mappers"): the standard ones, `groups` from a Group Membership mapper with "Full group path" on
 * (its default), and the roles of the `roles` client scope's mappers, once "Add to ID token" is on.
 */
const GRACE: MockUser = {
  sub: 'f2c1a6b8-3d4e-4f50-9a61-7b8c9d0e1f2a',
  claims: {
    typ: 'ID',
    azp: realm.clientId,
    sid: '0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b',
    acr: '1',
    email_verified: true,
    name: 'Grace Hopper',
    preferred_username: 'grace',
    given_name: 'Grace',
    family_name: 'Hopper',
    email: 'grace@corp.example',
    groups: ['/admins', '/acme/platform'],
    realm_access: { roles: ['default-roles-acme', 'offline_access', 'auditor'] },
    resource_access: { portal: { roles: ['editor'] }, account: { roles: ['manage-account'] } },
  },
};

const allowing = (groups: string) => ({ ...ENV, PROVIDER_KEYCLOAK_ALLOWED_GROUPS: groups });

describe('keycloak provider', () => {
  it('finds the realm’s issuer from _URL and _REALM (with the legacy /auth path too), or takes _ISSUER as it is', () => {
    const { PROVIDER_KEYCLOAK_URL: _url, PROVIDER_KEYCLOAK_REALM: _realm, ...client } = ENV;
    const issuer = (env: Record<string, string>) => (parseConfig(env).providers[0] as { issuer?: string }).issuer;
    expect(issuer(ENV)).toBe('https://sso.corp.example/realms/acme');
    expect(issuer({ ...ENV, PROVIDER_KEYCLOAK_URL: 'https://sso.corp.example/' })).toBe('https://sso.corp.example/realms/acme');
    expect(issuer({ ...ENV, PROVIDER_KEYCLOAK_URL: 'https://sso.corp.example/auth' })).toBe('https://sso.corp.example/auth/realms/acme');
    expect(issuer({ ...client, PROVIDER_KEYCLOAK_ISSUER: 'https://sso.corp.example/realms/acme' })).toBe(
      'https://sso.corp.example/realms/acme',
    );
  });

  it('signs a member of an allowed group in: the exact profile, its group as the rule spells it', async () => {
    const { profile } = await signInAt(realm, 'keycloak', allowing('admins'), GRACE);
    expect(profile).toEqual({
      subject: 'f2c1a6b8-3d4e-4f50-9a61-7b8c9d0e1f2a',
      email: 'grace@corp.example',
      emailVerified: true,
      name: 'Grace Hopper',
      preferredUsername: 'grace',
      groups: ['admins'],
    });
  });

  it('compares full group paths without their leading slash: a subgroup by its whole path, never by its last name', async () => {
    expect((await signInAt(realm, 'keycloak', allowing('acme/platform'), GRACE)).profile.groups).toEqual(['acme/platform']);
    for (const groups of ['platform', 'acme', 'staff']) {
      const error = await rejection(signInAt(realm, 'keycloak', allowing(groups), GRACE));
      expect(error, groups).toMatchObject({ code: 'not_allowed', detail: { rule: 'PROVIDER_KEYCLOAK_ALLOWED_GROUPS' } });
    }
  });

  it('counts realm roles as role:<role> and client roles as role:<client>:<role>, as oauth2-proxy does', async () => {
    const rules = allowing('role:auditor,role:portal:editor,role:admin');
    expect((await signInAt(realm, 'keycloak', rules, GRACE)).profile.groups).toEqual(['role:auditor', 'role:portal:editor']);
    // A role is no group, nor a group a role.
    expect(await rejection(signInAt(realm, 'keycloak', allowing('auditor,role:admins'), GRACE))).toMatchObject({ code: 'not_allowed' });
  });

  it('reads the roles from userinfo when only its mapper has them, and signs in without any', async () => {
    const inUserinfoOnly = (claims: Record<string, unknown>) => {
      const { realm_access: _r, resource_access: _c, ...idToken } = claims;
      return idToken;
    };
    const { profile } = await signInAt(realm, 'keycloak', allowing('role:auditor'), GRACE, inUserinfoOnly);
    expect(profile.groups).toEqual(['role:auditor']);
    const { realm_access: _r, resource_access: _c, groups: _g, ...bare } = GRACE.claims ?? {};
    const plain = await signInAt(realm, 'keycloak', ENV, { ...GRACE, claims: bare });
    expect(plain.profile).not.toHaveProperty('groups');
  });

  it('refuses to start without its realm, with it named twice, or with a group rule spelt with its slash', () => {
    const { PROVIDER_KEYCLOAK_URL: url, PROVIDER_KEYCLOAK_REALM: _realm, ...client } = ENV;
    expect(startupProblems(client)).toEqual([
      "PROVIDER_KEYCLOAK_URL and PROVIDER_KEYCLOAK_REALM are required for Keycloak (the server's address, like https://sso.example.com, and the realm's name), or else PROVIDER_KEYCLOAK_ISSUER (https://sso.example.com/realms/<realm>)",
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_KEYCLOAK_ISSUER: 'https://sso.corp.example/realms/acme' })).toEqual([
      'PROVIDER_KEYCLOAK_ISSUER names the realm already: set it alone, or PROVIDER_KEYCLOAK_URL with PROVIDER_KEYCLOAK_REALM instead',
    ]);
    expect(startupProblems({ ...client, PROVIDER_KEYCLOAK_URL: url })).toEqual([
      "PROVIDER_KEYCLOAK_REALM is required for Keycloak beside PROVIDER_KEYCLOAK_URL (the realm's name, as in https://sso.example.com/realms/<realm>)",
    ]);
    expect(startupProblems({ ...client, PROVIDER_KEYCLOAK_REALM: 'acme' })).toEqual([
      "PROVIDER_KEYCLOAK_URL is required for Keycloak (beside PROVIDER_KEYCLOAK_REALM: the server's address, like https://sso.example.com)",
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_KEYCLOAK_REALM: 'acme/../master' })).toEqual([
      'PROVIDER_KEYCLOAK_REALM must be letters, digits, ".", "_" or "-": "acme/../master"',
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_KEYCLOAK_URL: 'https://sso.corp.example/realms/acme' })).toEqual([
      "PROVIDER_KEYCLOAK_URL is the server's address, without /realms/<realm>: PROVIDER_KEYCLOAK_REALM names the realm",
    ]);
    expect(startupProblems(allowing('staff,/admins'))).toEqual([
      'PROVIDER_KEYCLOAK_ALLOWED_GROUPS entry "/admins": write Keycloak group paths without the leading slash ("admins")',
    ]);
  });

  it('starts in production without an access rule: a corporate IdP’s users are the company’s', () => {
    expect(startupProblems({ ...PRODUCTION_ENV, ...ENV })).toEqual([]);
  });
});
