import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { finishLogin, startLogin } from '../../src/flow/login.js';
import { buildTestApp, memoryStore, PRODUCTION_ENV } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { MockOidcProvider, type MockUser } from '../support/mock-oidc.js';
import { providerContract } from './contract.js';
import { oidcHarness } from './harnesses.js';
import { startupProblems } from '../support/config.js';

// Slack at the network edge, as Sign in with Slack documents it (api.slack.com/authentication/
// sign-in-with-slack; the methods openid.connect.token and openid.connect.userInfo) and its
// discovery at https://slack.com/.well-known/openid-configuration publishes it: endpoints under
// /openid/connect and /api, both client authentications, no RFC 9207 `iss`; Web API answers with
// `"ok": true`, and refusals as 200 `{"ok": false, "error": ...}`.
const slack = await new MockOidcProvider('https://slack.com', {
  sendsIss: false,
  endpoints: {
    authorization: 'https://slack.com/openid/connect/authorize',
    token: 'https://slack.com/api/openid.connect.token',
    userinfo: 'https://slack.com/api/openid.connect.userInfo',
    jwks: 'https://slack.com/openid/connect/keys',
  },
  discovery: {
    scopes_supported: ['openid', 'profile', 'email'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code'],
    claims_supported: ['sub', 'auth_time', 'iss'],
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: true,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    code_challenge_methods_supported: undefined,
    authorization_response_iss_parameter_supported: undefined,
  },
  tokenResponse: ({ expires_in: _, ...body }) => ({ ok: true, ...body }),
  userinfoResponse: (body) => ({ ok: true, ...body }),
}).init();
const msw = setupServer(...slack.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
afterEach(() => {
  slack.tokenError = undefined;
});

const ENV = { PROVIDER_SLACK_CLIENT_ID: slack.clientId, PROVIDER_SLACK_CLIENT_SECRET: slack.clientSecret };
const WORKSPACE = { ...ENV, PROVIDER_SLACK_TEAM_ID: 'T0R7GR' };

providerContract('slack', oidcHarness(slack, 'slack', ENV), msw);

const GRAVATAR = 'https://secure.gravatar.com/avatar/bc.png';
const IMAGE_512 = 'https://avatars.slack-edge.com/2021-05-27/U0R7MFMJM_512.png';

/**
 * The user of Slack's documentation, in workspace `team`: the ID token as openid.connect.token's
 * sample decodes (no `picture`, Slack's image sizes instead), userinfo as openid.connect.userInfo's.
 */
function member(team = 'T0R7GR', userinfo: Record<string, unknown> = {}): MockUser {
  const slackClaims = {
    'https://slack.com/team_id': team,
    'https://slack.com/user_id': 'U0R7MFMJM',
    email: 'bront@slack-corp.com',
    email_verified: true,
    date_email_verified: 1622128723,
    locale: 'en-US',
    name: 'brent',
    given_name: '',
    family_name: '',
    'https://slack.com/user_image_24': 'https://avatars.slack-edge.com/2021-05-27/U0R7MFMJM_24.png',
    'https://slack.com/user_image_512': IMAGE_512,
    'https://slack.com/team_image_default': true,
  };
  return {
    sub: 'U0R7MFMJM',
    claims: slackClaims,
    userinfo: {
      ...slackClaims,
      picture: GRAVATAR,
      'https://slack.com/team_name': 'kraneflannel',
      'https://slack.com/team_domain': 'kraneflannel',
      ...userinfo,
    },
  };
}

async function signIn(user: MockUser, env: Record<string, string> = ENV) {
  const deps = flowDepsFor(env);
  const started = await startLogin(deps, 'slack', '/');
  return { started, finished: finishLogin(deps, 'slack', started.flowId, slack.authorize(started.authorizationUrl, user)) };
}

describe('slack provider', () => {
  it('signs a member in: the profile from the ID token, the picture from userinfo; the issuer Slack’s', async () => {
    const { started, finished } = await signIn(member());
    expect(started.authorizationUrl.searchParams.has('team')).toBe(false);
    expect((await finished).profile).toEqual({
      subject: 'U0R7MFMJM',
      email: 'bront@slack-corp.com',
      emailVerified: true,
      name: 'brent',
      preferredUsername: undefined,
      picture: GRAVATAR,
    });
    expect(parseConfig(ENV).providers[0]).toMatchObject({ id: 'slack', type: 'slack', issuer: 'https://slack.com' });
  });

  it('takes the picture from https://slack.com/user_image_512 when userinfo has no picture, userinfo’s or else the ID token’s', async () => {
    const { finished } = await signIn(
      member('T0R7GR', { picture: undefined, 'https://slack.com/user_image_512': `${IMAGE_512}?userinfo` }),
    );
    expect((await finished).profile.picture).toBe(`${IMAGE_512}?userinfo`);
    const { finished: idTokenOnly } = await signIn(member('T0R7GR', { picture: undefined, 'https://slack.com/user_image_512': undefined }));
    expect((await idTokenOnly).profile.picture).toBe(IMAGE_512);
  });

  it('reports Slack’s 200 {"ok": false} refusal of the code as token_exchange_failed', async () => {
    slack.tokenError = { status: 200, body: { ok: false, error: 'invalid_code' } };
    const { finished } = await signIn(member());
    expect(await rejection(finished)).toMatchObject({ code: 'token_exchange_failed', detail: { provider: 'slack' } });
  });

  it('refuses to start without a client secret, with a setting Slack does not take, or a team that is no workspace ID', () => {
    const refused = startupProblems;
    expect(refused({ PROVIDER_SLACK_CLIENT_ID: 's' })).toEqual(['PROVIDER_SLACK_CLIENT_SECRET is required for Slack']);
    expect(refused({ ...ENV, PROVIDER_SLACK_HOSTED_DOMAIN: 'company.com' })).toEqual([
      expect.stringMatching(
        /^PROVIDER_SLACK_HOSTED_DOMAIN is not a setting of Slack \(its settings: PROVIDER_SLACK_CLIENT_ID, .*PROVIDER_SLACK_ISSUER, PROVIDER_SLACK_TEAM_ID\)$/,
      ),
    ]);
    expect(refused({ ...ENV, PROVIDER_SLACK_TEAM_ID: 'kraneflannel' })).toEqual([
      'PROVIDER_SLACK_TEAM_ID is not a Slack workspace ID (like T0123ABCD): "kraneflannel"',
    ]);
  });

  it('is a public provider without a team: production refuses it, naming it and what to set, and starts with a rule or _ALLOW_ALL', () => {
    const problems = startupProblems({ ...PRODUCTION_ENV, ...ENV });
    expect(problems).toEqual([
      'provider slack lets every account of a public provider sign in: set ALLOWED_EMAIL_DOMAINS, PROVIDER_SLACK_TEAM_ID, PROVIDER_SLACK_ALLOWED_EMAIL_DOMAINS, PROVIDER_SLACK_ALLOWED_EMAILS, or PROVIDER_SLACK_ALLOW_ALL=true to let everyone in',
    ]);
    for (const rule of [{ PROVIDER_SLACK_ALLOWED_EMAILS: 'bront@slack-corp.com' }, { PROVIDER_SLACK_ALLOW_ALL: 'true' }]) {
      expect(parseConfig({ ...PRODUCTION_ENV, ...ENV, ...rule }).providers[0]?.id).toBe('slack');
    }
  });
});

describe('slack with a team (one workspace)', () => {
  /** A sign-in through a real app as a member whose ID token names workspace `team`. */
  async function signInToApp(team: string | undefined) {
    const gateway = await buildTestApp({ store: memoryStore(), env: WORKSPACE });
    const browser = new TestBrowser();
    const login = await browser.get(gateway.app, 'https://gateway.test/login/slack');
    const location = new URL(login.headers.get('location')!);
    const user = member(team);
    if (team === undefined) delete user.claims?.['https://slack.com/team_id'];
    const done = await browser.get(gateway.app, `https://gateway.test/callback/slack?${slack.authorize(location, user)}`);
    return { gateway, location, done, token: await browser.cookie('https://gateway.test', '__Host-auth_token') };
  }

  it('asks Slack for that workspace (team), and lets in an ID token whose team_id is it', async () => {
    const { location, done, token } = await signInToApp('T0R7GR');
    expect(location.searchParams.get('team')).toBe('T0R7GR');
    expect(done.status).toBe(302);
    expect(token).toBeDefined();
  });

  it('refuses, with the 403 page and no token, an ID token of another workspace or of none', async () => {
    for (const team of ['T9EVIL9', undefined]) {
      const { gateway, done, token } = await signInToApp(team);
      expect(done.status, String(team)).toBe(403);
      const page = await done.text();
      expect(page, page).toContain('You signed in as <strong>bront@slack-corp.com</strong>');
      expect(token).toBeUndefined();
      expect(gateway.logs.lines.find((line) => line.error === 'not_allowed')).toMatchObject({
        rule: 'PROVIDER_SLACK_TEAM_ID',
        reason: `workspace ${team ?? 'unknown'} (kraneflannel)`,
      });
    }
  });

  it('is no public provider then: production starts without another rule', () => {
    expect(parseConfig({ ...PRODUCTION_ENV, ...WORKSPACE }).providers[0]).toMatchObject({ teamId: 'T0R7GR' });
  });
});
