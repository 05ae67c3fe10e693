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
import { signInAt } from './oidc-sign-in.js';

// authentik at the network edge: one application's issuer, <URL>/application/o/<slug>/, slash included.
const app = await new MockOidcProvider('https://authentik.corp.example/application/o/portero/').init();
const msw = setupServer(...app.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const ENV = {
  PROVIDER_AUTHENTIK_CLIENT_ID: app.clientId,
  PROVIDER_AUTHENTIK_CLIENT_SECRET: app.clientSecret,
  PROVIDER_AUTHENTIK_URL: 'https://authentik.corp.example',
  PROVIDER_AUTHENTIK_SLUG: 'portero',
};

providerContract('authentik', oidcHarness(app, 'authentik', ENV), msw);

/**
 * authentik's default scope mappings (docs.goauthentik.io, "OAuth 2.0 provider", scope mappings):
 * `profile` gives `name`, `given_name`, `preferred_username`, `nickname` and `groups` (the group
 * names); `email` gives `email` and `email_verified`, false since 2025.10 (authentik verifies no
 * address), true here as the custom email mapping authentik's docs show says. The subject is the
 * user's hashed id by default.
 */
const GRACE: MockUser = {
  sub: '7f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b',
  claims: {
    name: 'Grace Hopper',
    given_name: 'Grace Hopper',
    preferred_username: 'grace',
    nickname: 'grace',
    groups: ['authentik Admins', 'engineering'],
    email: 'grace@corp.example',
    email_verified: true,
  },
};
const allowing = (groups: string) => ({ ...ENV, PROVIDER_AUTHENTIK_ALLOWED_GROUPS: groups });

describe('authentik provider', () => {
  it('makes the issuer <URL>/application/o/<slug>/ and discovers it there', async () => {
    expect(parseConfig(ENV).providers[0]).toMatchObject({ issuer: 'https://authentik.corp.example/application/o/portero/' });
    expect(parseConfig({ ...ENV, PROVIDER_AUTHENTIK_URL: 'https://corp.example/authentik/' }).providers[0]).toMatchObject({
      issuer: 'https://corp.example/authentik/application/o/portero/',
    });
    const { authorizationUrl } = await startLogin(flowDepsFor(ENV), 'authentik', undefined);
    expect(authorizationUrl.origin).toBe('https://authentik.corp.example');
  });

  it('signs a member of an allowed group in: the exact profile', async () => {
    const { profile } = await signInAt(app, 'authentik', allowing('Engineering'), GRACE);
    expect(profile).toEqual({
      subject: GRACE.sub,
      email: 'grace@corp.example',
      emailVerified: true,
      name: 'Grace Hopper',
      preferredUsername: 'grace',
      groups: ['Engineering'],
    });
  });

  it('refuses a user in none of the allowed groups', async () => {
    const error = await rejection(signInAt(app, 'authentik', allowing('finance'), GRACE));
    expect(error).toMatchObject({ code: 'not_allowed', detail: { rule: 'PROVIDER_AUTHENTIK_ALLOWED_GROUPS' } });
  });

  it('refuses email rules for the default email mapping, whose email_verified is false', async () => {
    const unverified = { ...GRACE, claims: { ...GRACE.claims, email_verified: false } };
    const env = { ...ENV, PROVIDER_AUTHENTIK_ALLOWED_EMAIL_DOMAINS: 'corp.example' };
    expect(await rejection(signInAt(app, 'authentik', env, unverified))).toMatchObject({
      code: 'not_allowed',
      detail: { reason: 'no verified email' },
    });
  });

  it('refuses to start without _URL or _SLUG, or with the issuer in _URL', () => {
    const { PROVIDER_AUTHENTIK_URL: _url, PROVIDER_AUTHENTIK_SLUG: _slug, ...client } = ENV;
    expect(startupProblems(client)).toEqual([
      "PROVIDER_AUTHENTIK_URL is required for authentik (authentik's address, like https://authentik.company)",
      "PROVIDER_AUTHENTIK_SLUG is required for authentik (the application's slug, as in <URL>/application/o/<slug>/)",
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_AUTHENTIK_SLUG: 'portero/' })).toEqual([
      'PROVIDER_AUTHENTIK_SLUG must be letters, digits, ".", "_" or "-": "portero/"',
    ]);
    expect(startupProblems({ ...ENV, PROVIDER_AUTHENTIK_URL: 'https://authentik.corp.example/application/o/portero/' })).toEqual([
      "PROVIDER_AUTHENTIK_URL is authentik's address, without /application/o/<slug>: PROVIDER_AUTHENTIK_SLUG names the application",
    ]);
  });

  it('starts in production without an access rule: a corporate IdP’s users are the company’s', () => {
    expect(startupProblems({ ...PRODUCTION_ENV, ...ENV })).toEqual([]);
  });
});
