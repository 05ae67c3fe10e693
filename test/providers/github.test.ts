import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { finishLogin, startLogin, type LoginDeps } from '../../src/flow/login.js';
import { refusedProblems } from '../support/config.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { GITHUB_CLIENT_ID as CLIENT_ID, GITHUB_CLIENT_SECRET as CLIENT_SECRET, MockGitHub } from '../support/mock-github.js';
import { parseConfig } from '../../src/config/parse.js';
import { PRODUCTION_ENV } from '../support/app.js';
import { providerContract } from './contract.js';
import { githubHarness } from './harnesses.js';

const github = new MockGitHub();
const enterprise = new MockGitHub('https://ghe.corp.example', 'https://ghe.corp.example/api/v3');
const msw = setupServer(...github.handlers(), ...enterprise.handlers());

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

providerContract('github', githubHarness(github), msw);

const ADA = {
  id: 583231,
  login: 'octoada',
  name: 'Ada Lovelace',
  email: 'public@ada.example',
  avatar_url: 'https://avatars.githubusercontent.com/u/583231?v=4',
};

let deps: LoginDeps;
beforeEach(() => {
  deps = flowDepsFor({ PROVIDER_GITHUB_CLIENT_ID: CLIENT_ID, PROVIDER_GITHUB_CLIENT_SECRET: CLIENT_SECRET });
  github.user = ADA;
  github.emails = [
    { email: 'old@ada.example', primary: false, verified: true, visibility: null },
    { email: 'ada@work.example', primary: true, verified: true, visibility: 'private' },
  ];
  github.tokenFailure = undefined;
  github.userStatus = 200;
  github.emailsStatus = 200;
  github.apiCalls.length = 0;
});

async function signIn(mock = github, providerId = 'github', returnTo = '/profile') {
  const started = await startLogin(deps, providerId, returnTo);
  return finishLogin(deps, providerId, started.flowId, mock.authorize(started.authorizationUrl));
}

describe('GitHub sign-in', () => {
  it('sends the user to GitHub with PKCE S256, the two scopes and no nonce', async () => {
    const { authorizationUrl, state } = await startLogin(deps, 'github', undefined);
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe('https://github.com/login/oauth/authorize');
    const params = authorizationUrl.searchParams;
    expect(params.get('client_id')).toBe(CLIENT_ID);
    expect(params.get('redirect_uri')).toBe('https://gateway.test/callback/github');
    expect(params.get('scope')).toBe('read:user user:email');
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(params.get('state')).toBe(state);
    expect(params.has('nonce')).toBe(false);
    expect(params.has('client_secret')).toBe(false);
  });

  it('builds the profile from /user, with the primary verified address from /user/emails', async () => {
    const finished = await signIn();
    expect(finished.provider.id).toBe('github');
    expect(finished.returnTo).toBe('https://gateway.test/profile');
    expect(finished.profile).toEqual({
      subject: '583231',
      email: 'ada@work.example',
      emailVerified: true,
      name: 'Ada Lovelace',
      preferredUsername: 'octoada',
      picture: 'https://avatars.githubusercontent.com/u/583231?v=4',
    });
    expect(github.apiCalls).toEqual(['/user', '/user/emails']);
  });

  it('gives no email when the primary address is not verified, rather than another one', async () => {
    github.emails = [
      { email: 'ada@unverified.example', primary: true, verified: false },
      { email: 'old@ada.example', primary: false, verified: true },
    ];
    const { profile } = await signIn();
    expect(profile.email).toBeUndefined();
    expect(profile.emailVerified).toBeUndefined();
    expect(profile.subject).toBe('583231');
  });

  it('gives no email when /user/emails lists none, and ignores entries of the wrong shape', async () => {
    github.emails = [{ primary: true, verified: true }, 'ada@work.example'];
    expect((await signIn()).profile.email).toBeUndefined();
    github.emails = { message: 'not a list' };
    expect((await signIn()).profile.email).toBeUndefined();
  });

  it('signs in without an email when the app may not read /user/emails (403), but fails on a 500', async () => {
    github.emailsStatus = 403;
    const { profile } = await signIn();
    expect(profile).toMatchObject({ subject: '583231', preferredUsername: 'octoada' });
    expect(profile.email).toBeUndefined();
    github.emailsStatus = 500;
    expect((await rejection(signIn())).code).toBe('profile_unavailable');
  });

  it('uses the login name when the user set no display name', async () => {
    github.user = { id: 7, login: 'noname', name: null, avatar_url: null };
    const { profile } = await signIn();
    expect(profile).toMatchObject({ subject: '7', preferredUsername: 'noname' });
    expect(profile.name).toBeUndefined();
    expect(profile.picture).toBeUndefined();
  });

  it('reports a refused code exchange as token_exchange_failed', async () => {
    github.tokenFailure = { status: 400, body: { error: 'invalid_grant', error_description: 'The code has expired' } };
    const error = await rejection(signIn());
    expect(error.code).toBe('token_exchange_failed');
    expect(error.detail).toMatchObject({ provider: 'github', oauth_error: 'invalid_grant' });
    expect(error.message).not.toContain('expired');
    expect(github.apiCalls).toEqual([]);
  });

  it("reports GitHub's 200-with-error answer as token_exchange_failed", async () => {
    github.tokenFailure = {
      status: 200,
      body: { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' },
    };
    // For the log: the error GitHub named, not its description.
    expect(await rejection(signIn())).toMatchObject({ code: 'token_exchange_failed', detail: { oauth_error: 'bad_verification_code' } });
  });

  it('reports a failing /user as profile_unavailable', async () => {
    github.userStatus = 500;
    const error = await rejection(signIn());
    expect(error.code).toBe('profile_unavailable');
    expect(error.detail.provider).toBe('github');
  });

  it('uses the flow once: a replayed callback is refused before any call to GitHub', async () => {
    const started = await startLogin(deps, 'github', undefined);
    const callback = github.authorize(started.authorizationUrl);
    await finishLogin(deps, 'github', started.flowId, callback);
    github.apiCalls.length = 0;
    const exchanges = github.exchanges;
    expect((await rejection(finishLogin(deps, 'github', started.flowId, callback))).code).toBe('flow_invalid');
    expect(github.apiCalls).toEqual([]);
    expect(github.exchanges, 'no second code exchange').toBe(exchanges);
  });
});

describe('GitHub Enterprise (type github with its own endpoints)', () => {
  it('reads the user and the addresses from the enterprise API, never from api.github.com', async () => {
    deps = flowDepsFor({
      PROVIDER_GHE_CLIENT_ID: CLIENT_ID,
      PROVIDER_GHE_CLIENT_SECRET: CLIENT_SECRET,
      PROVIDER_GHE_TYPE: 'github',
      PROVIDER_GHE_AUTHORIZATION_URL: 'https://ghe.corp.example/login/oauth/authorize',
      PROVIDER_GHE_TOKEN_URL: 'https://ghe.corp.example/login/oauth/access_token',
      PROVIDER_GHE_USERINFO_URL: 'https://ghe.corp.example/api/v3/user',
    });
    enterprise.user = { id: 12, login: 'ada', name: 'Ada' };
    enterprise.emails = [{ email: 'ada@corp.example', primary: true, verified: true }];
    const { profile } = await signIn(enterprise, 'ghe');
    expect(profile).toMatchObject({ subject: '12', email: 'ada@corp.example', emailVerified: true });
    expect(enterprise.apiCalls).toEqual(['/user', '/user/emails']);
    expect(github.apiCalls).toEqual([]);
  });
});

describe('GitHub Enterprise Server through PROVIDER_<ID>_URL', () => {
  const GHE = { PROVIDER_GHE_CLIENT_ID: CLIENT_ID, PROVIDER_GHE_CLIENT_SECRET: CLIENT_SECRET, PROVIDER_GHE_TYPE: 'github' };
  const problemsOf = refusedProblems;
  beforeEach(() => {
    enterprise.user = { id: 12, login: 'ada', name: 'Ada' };
    enterprise.emails = [{ email: 'ada@corp.example', primary: true, verified: true }];
    enterprise.orgs = [{ login: 'acme', id: 1 }];
    enterprise.teams = [{ slug: 'platform', organization: { login: 'acme' } }];
    enterprise.apiCalls.length = 0;
  });

  it('derives the web endpoints from the URL and the API at <URL>/api/v3, a trailing slash or not', () => {
    for (const url of ['https://ghe.corp.example', 'https://ghe.corp.example/']) {
      expect(parseConfig({ ...GHE, PROVIDER_GHE_URL: url }).providers[0], url).toMatchObject({
        authorizationUrl: 'https://ghe.corp.example/login/oauth/authorize',
        tokenUrl: 'https://ghe.corp.example/login/oauth/access_token',
        userinfoUrl: 'https://ghe.corp.example/api/v3/user',
      });
    }
  });

  it('sends the user to the server, and reads the user, the addresses, the orgs and the teams from its API only', async () => {
    deps = flowDepsFor({ ...GHE, PROVIDER_GHE_URL: 'https://ghe.corp.example', PROVIDER_GHE_ALLOWED_ORGS: 'acme/platform' });
    const { authorizationUrl } = await startLogin(deps, 'ghe', undefined);
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe('https://ghe.corp.example/login/oauth/authorize');
    const { profile } = await signIn(enterprise, 'ghe');
    expect(profile).toEqual({ subject: '12', email: 'ada@corp.example', emailVerified: true, name: 'Ada', preferredUsername: 'ada' });
    expect(enterprise.apiCalls).toEqual(['/user', '/user/emails', '/user/orgs', '/user/teams']);
    expect(github.apiCalls, 'nothing asked of api.github.com').toEqual([]);
  });

  it('with the explicit endpoints too, asks the orgs and teams of the server, never api.github.com', async () => {
    deps = flowDepsFor({
      ...GHE,
      PROVIDER_GHE_AUTHORIZATION_URL: 'https://ghe.corp.example/login/oauth/authorize',
      PROVIDER_GHE_TOKEN_URL: 'https://ghe.corp.example/login/oauth/access_token',
      PROVIDER_GHE_USERINFO_URL: 'https://ghe.corp.example/api/v3/user',
      PROVIDER_GHE_ALLOWED_ORGS: 'acme/platform',
    });
    expect((await signIn(enterprise, 'ghe')).profile.subject).toBe('12');
    expect(enterprise.apiCalls).toEqual(['/user', '/user/emails', '/user/orgs', '/user/teams']);
    expect(github.apiCalls).toEqual([]);
  });

  it('refuses to start with _URL and any explicit endpoint, naming both', () => {
    expect(
      problemsOf({ ...GHE, PROVIDER_GHE_URL: 'https://ghe.corp.example', PROVIDER_GHE_TOKEN_URL: 'https://ghe.corp.example/t' }),
    ).toEqual([
      'PROVIDER_GHE_URL and PROVIDER_GHE_TOKEN_URL are both set: set PROVIDER_GHE_URL alone (GitHub Enterprise Server), or the endpoints alone',
    ]);
    expect(
      problemsOf({
        ...GHE,
        PROVIDER_GHE_URL: 'https://ghe.corp.example',
        PROVIDER_GHE_AUTHORIZATION_URL: 'https://ghe.corp.example/a',
        PROVIDER_GHE_USERINFO_URL: 'https://ghe.corp.example/u',
      }),
    ).toEqual([
      'PROVIDER_GHE_URL and PROVIDER_GHE_AUTHORIZATION_URL, PROVIDER_GHE_USERINFO_URL are both set: set PROVIDER_GHE_URL alone (GitHub Enterprise Server), or the endpoints alone',
    ]);
  });

  it('refuses a URL that is not a GitHub Enterprise Server base: github.com, its API, a query, plain http off loopback', () => {
    const problems = (url: string) => problemsOf({ ...GHE, PROVIDER_GHE_URL: url });
    expect(problems('https://github.com')).toEqual(['PROVIDER_GHE_URL is for GitHub Enterprise Server; for github.com leave it unset']);
    expect(problems('https://api.github.com/')).toEqual([
      'PROVIDER_GHE_URL is for GitHub Enterprise Server; for github.com leave it unset',
    ]);
    expect(problems('https://ghe.corp.example/api/v3')).toEqual([
      'PROVIDER_GHE_URL is the server\'s web address (https://github.example.com), not its API ("https://ghe.corp.example/api/v3")',
    ]);
    expect(problems('https://ghe.corp.example/?team=x')).toEqual([
      'PROVIDER_GHE_URL must be the server\'s base URL, without ? or #: "https://ghe.corp.example/?team=x"',
    ]);
    expect(problems('http://ghe.corp.example')).toEqual([
      'PROVIDER_GHE_URL uses plain http on a non-loopback host (ghe.corp.example); use https',
    ]);
    expect(problems('ghe.corp.example')).toEqual(['PROVIDER_GHE_URL is not a URL: "ghe.corp.example"']);
  });

  it('is a corporate provider: production starts with _URL, or endpoints off github.com, without a rule', () => {
    expect(parseConfig({ ...PRODUCTION_ENV, ...GHE, PROVIDER_GHE_URL: 'https://ghe.corp.example' }).providers).toHaveLength(1);
    const offGitHubCom = {
      PROVIDER_GHE_AUTHORIZATION_URL: 'https://ghe.corp.example/login/oauth/authorize',
      PROVIDER_GHE_TOKEN_URL: 'https://ghe.corp.example/login/oauth/access_token',
      PROVIDER_GHE_USERINFO_URL: 'https://ghe.corp.example/api/v3/user',
    };
    expect(parseConfig({ ...PRODUCTION_ENV, ...GHE, ...offGitHubCom }).providers).toHaveLength(1);
  });

  it("stays public while any endpoint is github.com's: a mix, or github.com itself named", () => {
    const refused = /provider ghe lets every account of a public provider sign in: set ALLOWED_EMAIL_DOMAINS, PROVIDER_GHE_ALLOWED_ORGS, /;
    // Only the API moved: the other two stay github.com's defaults.
    expect(() => parseConfig({ ...PRODUCTION_ENV, ...GHE, PROVIDER_GHE_USERINFO_URL: 'https://ghe.corp.example/api/v3/user' })).toThrow(
      refused,
    );
    expect(() => parseConfig({ ...PRODUCTION_ENV, ...GHE, PROVIDER_GHE_TOKEN_URL: 'https://github.com/login/oauth/access_token' })).toThrow(
      refused,
    );
  });
});

describe('GitHub with _ALLOWED_ORGS', () => {
  const WITH_ORGS = { PROVIDER_GITHUB_CLIENT_ID: CLIENT_ID, PROVIDER_GITHUB_CLIENT_SECRET: CLIENT_SECRET };
  beforeEach(() => {
    github.orgs = [
      { login: 'Acme', id: 1 },
      { login: 'hobby', id: 2 },
    ];
    github.teams = [{ slug: 'platform', organization: { login: 'acme' } }];
    github.orgsStatus = 200;
  });
  const signInWith = async (allowed: string) => {
    deps = flowDepsFor({ ...WITH_ORGS, PROVIDER_GITHUB_ALLOWED_ORGS: allowed });
    return signIn();
  };

  it('asks read:org too, and lets in a member of an allowed organisation or team, case-insensitively', async () => {
    deps = flowDepsFor({ ...WITH_ORGS, PROVIDER_GITHUB_ALLOWED_ORGS: 'acme' });
    const { authorizationUrl } = await startLogin(deps, 'github', undefined);
    expect(authorizationUrl.searchParams.get('scope')).toBe('read:user user:email read:org');
    expect((await signInWith('ACME')).profile.subject).toBe('583231');
    expect((await signInWith('other,acme/platform')).profile.subject).toBe('583231');
  });

  it('refuses a user in none of them, naming the GitHub login, and when GitHub will not list them', async () => {
    for (const allowed of ['other', 'acme/security', 'hobby/platform']) {
      const err = await rejection(signInWith(allowed));
      expect(err, allowed).toMatchObject({
        code: 'not_allowed',
        account: 'octoada',
        detail: { rule: 'PROVIDER_GITHUB_ALLOWED_ORGS', reason: 'in no allowed org' },
      });
    }
    github.orgsStatus = 403;
    expect(await rejection(signInWith('acme'))).toMatchObject({
      code: 'not_allowed',
      detail: { reason: 'memberships not readable (scope read:org?)' },
    });
  });

  it('is no public provider then: production starts with it alone', () => {
    expect(parseConfig({ ...PRODUCTION_ENV, ...WITH_ORGS, PROVIDER_GITHUB_ALLOWED_ORGS: 'acme' }).providers[0]).toMatchObject({
      allowedOrgs: ['acme'],
    });
    expect(() => parseConfig({ ...PRODUCTION_ENV, ...WITH_ORGS })).toThrow(/provider github lets every account/);
    expect(() => parseConfig({ ...WITH_ORGS, PROVIDER_GITHUB_ALLOWED_ORGS: 'acme/, @x' })).toThrow(/is not an organisation or org\/team/);
  });
});

describe('GitHub with _CLAIMS (login, orgs)', () => {
  const BASE = { PROVIDER_GITHUB_CLIENT_ID: CLIENT_ID, PROVIDER_GITHUB_CLIENT_SECRET: CLIENT_SECRET };
  beforeEach(() => {
    github.orgs = [
      { login: 'Acme', id: 1 },
      { login: 'hobby', id: 2 },
    ];
    github.orgsStatus = 200;
  });

  it('copies the login and the organisations as GitHub spells them, asking read:org for them', async () => {
    deps = flowDepsFor({ ...BASE, PROVIDER_GITHUB_CLAIMS: 'login,orgs' });
    const { authorizationUrl } = await startLogin(deps, 'github', undefined);
    expect(authorizationUrl.searchParams.get('scope')).toBe('read:user user:email read:org');
    const { profile } = await signIn();
    expect(profile.extraClaims).toEqual({ login: 'octoada', orgs: ['Acme', 'hobby'] });
    expect(github.apiCalls).toEqual(['/user', '/user/emails', '/user/orgs']);
  });

  it('reads any field of /user, and asks neither read:org nor /user/orgs without orgs', async () => {
    deps = flowDepsFor({ ...BASE, PROVIDER_GITHUB_CLAIMS: 'login,site_admin,public_repos' });
    github.user = { ...ADA, site_admin: false, public_repos: 12 };
    const { authorizationUrl } = await startLogin(deps, 'github', undefined);
    expect(authorizationUrl.searchParams.get('scope')).toBe('read:user user:email');
    expect((await signIn()).profile.extraClaims).toEqual({ login: 'octoada', site_admin: false, public_repos: 12 });
    expect(github.apiCalls).toEqual(['/user', '/user/emails']);
  });

  it('signs in without orgs when GitHub will not list them (no read:org granted)', async () => {
    deps = flowDepsFor({ ...BASE, PROVIDER_GITHUB_CLAIMS: 'login,orgs' });
    github.orgsStatus = 403;
    expect((await signIn()).profile.extraClaims).toEqual({ login: 'octoada' });
  });

  it('reads every page of organisations: all of them or none, and an allowed one on page 2 counts', async () => {
    github.orgs = Array.from({ length: 130 }, (_, i) => ({ login: `org${i}`, id: i }));
    deps = flowDepsFor({ ...BASE, PROVIDER_GITHUB_CLAIMS: 'orgs', PROVIDER_GITHUB_ALLOWED_ORGS: 'org120' });
    const { profile, leftOutClaims } = await signIn();
    expect(github.apiCalls.filter((call) => call === '/user/orgs')).toHaveLength(2);
    // 130 names do not fit the token's room for extra claims: left out whole (and logged), not cut to the first page.
    expect(profile.extraClaims).toBeUndefined();
    expect(leftOutClaims).toEqual(['orgs']);
    github.orgs = Array.from({ length: 1001 }, (_, i) => ({ login: `o${i}`, id: i }));
    expect(await rejection(signIn())).toMatchObject({
      code: 'not_allowed',
      detail: { reason: 'memberships not readable (scope read:org?)' },
    });
  });
});
