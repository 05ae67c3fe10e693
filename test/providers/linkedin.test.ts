import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { finishLogin, startLogin } from '../../src/flow/login.js';
import { defineProvider, presets } from '../../src/providers/index.js';
import { linkedin as linkedinPreset } from '../../src/providers/linkedin.js';
import { PRODUCTION_ENV } from '../support/app.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { MockOidcProvider, type MockUser } from '../support/mock-oidc.js';
import { providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';
import { startupProblems } from '../support/config.js';

// LinkedIn at the network edge, as "Sign In with LinkedIn using OpenID Connect" documents it
// (learn.microsoft.com/linkedin/consumer/integrations/self-serve/sign-in-with-linkedin-v2) and its
// discovery document at https://www.linkedin.com/oauth/.well-known/openid-configuration publishes
// it: endpoints on www.linkedin.com and userinfo on api.linkedin.com, no client authentication
// methods, no PKCE methods, no RFC 9207 `iss`. Reported by every client that supports it (Auth.js
// `checks: ["state"]`, python-social-auth, teamhanko/hanko#2405): its ID tokens carry no `nonce`,
// it answers a `code_verifier` with an error, and it refuses a secret sent by HTTP Basic.
const linkedin = await new MockOidcProvider('https://www.linkedin.com/oauth', {
  sendsIss: false,
  endpoints: {
    authorization: 'https://www.linkedin.com/oauth/v2/authorization',
    token: 'https://www.linkedin.com/oauth/v2/accessToken',
    userinfo: 'https://api.linkedin.com/v2/userinfo',
    jwks: 'https://www.linkedin.com/oauth/openid/jwks',
  },
  discovery: {
    subject_types_supported: ['pairwise'],
    scopes_supported: ['openid', 'profile', 'email'],
    claims_supported: [
      'iss',
      'aud',
      'iat',
      'exp',
      'sub',
      'name',
      'given_name',
      'family_name',
      'picture',
      'email',
      'email_verified',
      'locale',
    ],
    code_challenge_methods_supported: undefined,
    token_endpoint_auth_methods_supported: undefined,
    authorization_response_iss_parameter_supported: undefined,
  },
  clientAuth: ['client_secret_post'],
  pkce: false,
  echoesNonce: false,
}).init();
const msw = setupServer(...linkedin.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
afterEach(() => {
  linkedin.idTokenOverride = undefined;
});

const ENV = { PROVIDER_LINKEDIN_CLIENT_ID: linkedin.clientId, PROVIDER_LINKEDIN_CLIENT_SECRET: linkedin.clientSecret };

providerContract('linkedin', oidcHarness(linkedin, 'linkedin', ENV), msw);

const PICTURE = 'https://media.licdn-ei.com/dms/image/C5F03AQHqK8v7tB1HCQ/profile-displayphoto-shrink_100_100/0/';

/**
 * The member of LinkedIn's documentation: the ID token's claims as its sample has them
 * (`email_verified` the string "true"), userinfo's as its response schema (a boolean, and
 * `locale` an object).
 */
const member = (claims: Record<string, unknown> = {}): MockUser => ({
  sub: '782bbtaQ',
  claims: {
    name: 'John Doe',
    given_name: 'John',
    family_name: 'Doe',
    picture: PICTURE,
    email: 'doe@email.com',
    email_verified: 'true',
    locale: 'en-US',
    ...claims,
  },
  userinfo: {
    email_verified: true,
    name: 'John Doe',
    locale: { country: 'US', language: 'en' },
    given_name: 'John',
    family_name: 'Doe',
    email: 'doe@email.com',
    picture: PICTURE,
    ...claims,
  },
});

async function signIn(user: MockUser, env: Record<string, string> = ENV, registry = presets, id = 'linkedin') {
  const deps = flowDepsFor(env, registry);
  const started = await startLogin(deps, id, '/');
  const callback = linkedin.authorize(started.authorizationUrl, user);
  return { started, callback, finished: finishLogin(deps, id, started.flowId, callback) };
}

describe('linkedin provider', () => {
  it('signs a member in: the profile from the ID token and userinfo, the issuer LinkedIn’s', async () => {
    const { finished } = await signIn(member());
    expect((await finished).profile).toEqual({
      subject: '782bbtaQ',
      email: 'doe@email.com',
      emailVerified: true,
      name: 'John Doe',
      preferredUsername: undefined,
      picture: PICTURE,
    });
    expect(parseConfig(ENV).providers[0]).toMatchObject({ id: 'linkedin', type: 'linkedin', issuer: 'https://www.linkedin.com/oauth' });
  });

  it('sends the client secret in the form body, never by HTTP Basic, which LinkedIn refuses', async () => {
    await (await signIn(member())).finished;
    const request = linkedin.tokenRequests.at(-1)!;
    expect(request.clientAuth).toBe('client_secret_post');
    expect(request.authorizationHeader).toBe(false);
    expect([request.form.get('client_id'), request.form.get('client_secret')]).toEqual([linkedin.clientId, linkedin.clientSecret]);

    // The same preset without its tokenAuthMethod: discovery names none, so openid-client's
    // default, HTTP Basic, goes out and LinkedIn answers invalid_client.
    const basic = defineProvider({ ...linkedinPreset, type: 'linkedin-basic', tokenAuthMethod: undefined });
    const env = {
      PROVIDER_LI_CLIENT_ID: linkedin.clientId,
      PROVIDER_LI_CLIENT_SECRET: linkedin.clientSecret,
      PROVIDER_LI_TYPE: 'linkedin-basic',
    };
    const { finished } = await signIn(member(), env, { ...presets, 'linkedin-basic': basic }, 'li');
    expect(await rejection(finished)).toMatchObject({ code: 'token_exchange_failed', detail: { oauth_error: 'invalid_client' } });
    expect(linkedin.tokenRequests.at(-1)!.clientAuth).toBe('client_secret_basic');
  });

  it('sends no PKCE challenge nor verifier, and no nonce, none of which LinkedIn takes', async () => {
    const { started, finished } = await signIn(member());
    await finished;
    expect([...started.authorizationUrl.searchParams.keys()].filter((name) => /^(code_challenge|nonce)/.test(name))).toEqual([]);
    expect(linkedin.tokenRequests.at(-1)!.codeVerifier).toBeNull();
  });

  it('refuses an ID token that carries a nonce: the login sent none, so it was issued to another', async () => {
    linkedin.idTokenOverride = (claims) => ({ ...claims, nonce: 'from-another-login' });
    const { finished } = await signIn(member());
    expect(await rejection(finished)).toMatchObject({
      code: 'id_token_invalid',
      detail: { oauth_code: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' },
    });
  });

  it('finishes a callback without iss, which LinkedIn does not send; one naming another issuer is refused', async () => {
    const { callback, finished } = await signIn(member());
    expect(callback.has('iss')).toBe(false);
    await finished;

    const deps = flowDepsFor(ENV);
    const started = await startLogin(deps, 'linkedin', '/');
    const forged = linkedin.authorize(started.authorizationUrl, member());
    forged.set('iss', 'https://idp.evil.example');
    expect(await rejection(finishLogin(deps, 'linkedin', started.flowId, forged))).toMatchObject({
      code: 'flow_invalid',
      detail: { reason: 'iss mismatch' },
    });
  });

  it('believes email_verified as a boolean or the string "true", and only so: an email rule lets the first in and refuses the rest', async () => {
    const env = { ...ENV, PROVIDER_LINKEDIN_ALLOWED_EMAIL_DOMAINS: 'email.com' };
    for (const verified of [true, 'true']) {
      const { finished } = await signIn(member({ email_verified: verified }), env);
      expect((await finished).profile.emailVerified, String(verified)).toBe(true);
    }
    for (const verified of [false, 'false', undefined]) {
      const { finished } = await signIn(member({ email_verified: verified }), env);
      expect(await rejection(finished), String(verified)).toMatchObject({ code: 'not_allowed', account: 'doe@email.com' });
    }
  });

  it('refuses to start without a client secret, and with a setting LinkedIn does not take', () => {
    const refused = startupProblems;
    expect(refused({ PROVIDER_LINKEDIN_CLIENT_ID: 'l' })).toEqual(['PROVIDER_LINKEDIN_CLIENT_SECRET is required for LinkedIn']);
    expect(refused({ ...ENV, PROVIDER_LINKEDIN_HOSTED_DOMAIN: 'company.com' })).toEqual([
      expect.stringMatching(
        /^PROVIDER_LINKEDIN_HOSTED_DOMAIN is not a setting of LinkedIn \(its settings: PROVIDER_LINKEDIN_CLIENT_ID, .*PROVIDER_LINKEDIN_ISSUER\)$/,
      ),
    ]);
  });

  it('is a public provider: production refuses it without a rule, naming it and what to set, and starts with one or _ALLOW_ALL', () => {
    const problems = startupProblems({ ...PRODUCTION_ENV, ...ENV });
    expect(problems).toEqual([
      'provider linkedin lets every account of a public provider sign in: set ALLOWED_EMAIL_DOMAINS, PROVIDER_LINKEDIN_ALLOWED_EMAIL_DOMAINS, PROVIDER_LINKEDIN_ALLOWED_EMAILS, or PROVIDER_LINKEDIN_ALLOW_ALL=true to let everyone in',
    ]);
    for (const rule of [
      { PROVIDER_LINKEDIN_ALLOWED_EMAIL_DOMAINS: 'company.com' },
      { ALLOWED_EMAIL_DOMAINS: 'company.com' },
      { PROVIDER_LINKEDIN_ALLOW_ALL: 'true' },
    ]) {
      expect(parseConfig({ ...PRODUCTION_ENV, ...ENV, ...rule }).providers[0]?.id).toBe('linkedin');
    }
  });
});
