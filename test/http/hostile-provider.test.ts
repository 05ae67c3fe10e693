import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DISCOVERY_RETRY_BACKOFF } from '../../src/flow/provider-client.js';
import { MAX_PROVIDER_RESPONSE_BYTES } from '../../src/flow/provider-http.js';
import { buildTestApp, ManualClock, memoryStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { BODY_SECRET, HostileProvider, type Misbehaviour } from '../support/hostile-provider.js';
import { GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, MockGitHub } from '../support/mock-github.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { pollUntil } from '../support/wait.js';

// A real provider over real sockets (test/support/hostile-provider.ts), in front of the mock
// OpenID provider, that hangs, drips, or answers garbage on one endpoint at a time. PROVIDER_TIMEOUT
// is 1 s, so a 504 must come after about 1 s, and well before the 10 s of the default.

const GATEWAY = 'https://gateway.test';
const DISCOVERY = '/.well-known/openid-configuration';
const TIMEOUT_TITLE = 'The sign-in provider did not answer in time';

let provider: HostileProvider;
let idp: MockOidcProvider;
let clock: ManualClock;
let gateway: TestApp;

beforeAll(async () => {
  provider = await HostileProvider.start();
  idp = await new MockOidcProvider(provider.origin).init();
  provider.upstream = idp;
});
afterAll(() => provider.close());
beforeEach(async () => {
  provider.reset();
  provider.upstream = idp;
  clock = new ManualClock();
  gateway = await buildTestApp({ store: memoryStore(clock), clock, env: { ...idp.env('corp'), PROVIDER_TIMEOUT: '1' } });
});

/** A sign-in as far as `step`: `/login/corp`, or on to the provider and back to `/callback/corp`. */
async function signIn(step: 'login' | 'callback', headers?: HeadersInit): Promise<{ response: Response; ms: number }> {
  const browser = new TestBrowser();
  const started = Date.now();
  if (step === 'login') return { response: await browser.get(gateway.app, `${GATEWAY}/login/corp`, headers), ms: Date.now() - started };
  const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
  expect(login.status).toBe(302);
  const callback = idp.authorize(login.headers.get('location')!, { sub: 'u', claims: { email: 'u@example.test' } });
  const callbackStarted = Date.now();
  const response = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${callback}`, headers);
  return { response, ms: Date.now() - callbackStarted };
}

/** A page a person can read, with a way to start again: no body of the provider, no stack, no token cookie; nor any in the log. */
async function expectCleanPage(response: Response, status: number, title: string): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain('text/html');
  const page = await response.text();
  expect(page).toContain(title);
  expect(page).toContain('Start again');
  expect(page).not.toContain(BODY_SECRET);
  expect(page).not.toMatch(/at .*\.ts:\d+/);
  expect(response.headers.getSetCookie().some((line) => line.startsWith('__Host-auth_token='))).toBe(false);
  const log = gateway.logs.raw.join('\n');
  expect(log).not.toContain(BODY_SECRET);
  expect(log).not.toMatch(/eyJ[\w-]+\.eyJ/); // no JWT: neither the provider's ID token nor one of ours
}

/** The gateway gave up every request it made: none is left open at the provider. */
const nothingLeftOpen = () =>
  pollUntil(() => provider.openRequests === 0, { what: 'the gateway to close its connections to the provider', timeoutMs: 1000 });

const lastError = () => gateway.logs.lines.filter((line) => line.error).at(-1);

describe('a provider that never answers, or never finishes, gives a 504 within PROVIDER_TIMEOUT and ties up nothing', () => {
  const cases: [string, string, Misbehaviour, 'login' | 'callback'][] = [
    ['discovery hangs', DISCOVERY, 'hang', 'login'],
    ['discovery drips', DISCOVERY, 'drip', 'login'],
    ['the token endpoint hangs', '/token', 'hang', 'callback'],
    ['the token endpoint drips', '/token', 'drip', 'callback'],
    ['the JWKS hangs', '/jwks', 'hang', 'callback'],
    ['the JWKS drips', '/jwks', 'drip', 'callback'],
    ['userinfo hangs', '/userinfo', 'hang', 'callback'],
    ['userinfo drips', '/userinfo', 'drip', 'callback'],
  ];
  for (const [what, path, how, step] of cases) {
    it(`when ${what}`, async () => {
      provider.misbehave(path, how);
      const { response, ms } = await signIn(step);
      await expectCleanPage(response, 504, TIMEOUT_TITLE);
      // After PROVIDER_TIMEOUT (1 s), and well before the default 10 s: a bound a loaded CI machine keeps.
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThan(6000);
      expect(provider.requests(path)).toBe(1);
      expect(lastError()).toMatchObject({ error: 'provider_timeout', provider: 'corp', status: 504, level: 'error' });
      await nothingLeftOpen();
    });
  }

  it('answers an API client with JSON', async () => {
    provider.misbehave('/token', 'hang');
    const { response } = await signIn('callback', { accept: 'application/json' });
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ error: 'provider_timeout', error_description: TIMEOUT_TITLE });
    await nothingLeftOpen();
  });
});

describe('a provider that answers HTML, an OAuth error with 200, not JSON, or gigabytes, gives a clean 502', () => {
  // A longer PROVIDER_TIMEOUT: each answer is refused as soon as it is read (a huge one after
  // 1 MiB), long before the deadline would end it.
  beforeEach(async () => {
    gateway = await buildTestApp({ store: memoryStore(clock), clock, env: { ...idp.env('corp'), PROVIDER_TIMEOUT: '5' } });
  });

  const UNREACHABLE = 'The sign-in provider cannot be reached';
  const REFUSED = 'The sign-in provider did not accept the login';
  const NO_PROFILE = 'Your profile could not be read from the sign-in provider';
  const cases: [string, string, Misbehaviour, 'login' | 'callback', string, string][] = [
    ['discovery answers HTML', DISCOVERY, 'html', 'login', UNREACHABLE, 'provider_unavailable'],
    ['discovery answers what is not JSON', DISCOVERY, 'not-json', 'login', UNREACHABLE, 'provider_unavailable'],
    ['discovery answers gigabytes', DISCOVERY, 'huge', 'login', UNREACHABLE, 'provider_unavailable'],
    ['the token endpoint answers HTML', '/token', 'html', 'callback', REFUSED, 'token_exchange_failed'],
    ['the token endpoint answers 200 with an OAuth error', '/token', 'oauth-error', 'callback', REFUSED, 'token_exchange_failed'],
    ['the token endpoint answers what is not JSON', '/token', 'not-json', 'callback', REFUSED, 'token_exchange_failed'],
    ['the token endpoint answers gigabytes', '/token', 'huge', 'callback', REFUSED, 'token_exchange_failed'],
    ['the JWKS answers HTML', '/jwks', 'html', 'callback', REFUSED, 'token_exchange_failed'],
    ['the JWKS answers gigabytes', '/jwks', 'huge', 'callback', REFUSED, 'token_exchange_failed'],
    ['userinfo answers HTML', '/userinfo', 'html', 'callback', NO_PROFILE, 'profile_unavailable'],
    ['userinfo answers what is not JSON', '/userinfo', 'not-json', 'callback', NO_PROFILE, 'profile_unavailable'],
    ['userinfo answers gigabytes', '/userinfo', 'huge', 'callback', NO_PROFILE, 'profile_unavailable'],
  ];
  for (const [what, path, how, step, title, code] of cases) {
    it(`when ${what}`, async () => {
      provider.misbehave(path, how);
      const { response, ms } = await signIn(step);
      await expectCleanPage(response, 502, title);
      expect(ms).toBeLessThan(4000);
      expect(lastError()).toMatchObject({ error: code, provider: 'corp', status: 502 });
      await nothingLeftOpen();
      // Cut off after the bound, not read to the end (the socket buffers let a few MiB more through).
      expect(provider.hugeBytesSent).toBeLessThan(32 * MAX_PROVIDER_RESPONSE_BYTES);
    });
  }

  it('says why in the log line, without the body: an oversized answer is named as such', async () => {
    provider.misbehave('/token', 'huge');
    await signIn('callback');
    expect(lastError()).toMatchObject({ reason: `${provider.origin}/token answered more than ${MAX_PROVIDER_RESPONSE_BYTES} bytes` });
  });
});

describe("a preset's own API calls (GitHub's /user/emails) are bounded alike", () => {
  let github: MockGitHub;
  beforeEach(async () => {
    github = new MockGitHub(provider.origin, `${provider.origin}/api/v3`);
    github.user = { id: 7, login: 'octo', name: 'Octo Cat' };
    github.emails = [{ email: 'octo@example.test', primary: true, verified: true }];
    provider.upstream = github;
    gateway = await buildTestApp({
      store: memoryStore(clock),
      clock,
      env: {
        PROVIDER_GH_CLIENT_ID: GITHUB_CLIENT_ID,
        PROVIDER_GH_CLIENT_SECRET: GITHUB_CLIENT_SECRET,
        PROVIDER_GH_TYPE: 'github',
        PROVIDER_GH_AUTHORIZATION_URL: `${provider.origin}/login/oauth/authorize`,
        PROVIDER_GH_TOKEN_URL: `${provider.origin}/login/oauth/access_token`,
        PROVIDER_GH_USERINFO_URL: `${provider.origin}/api/v3/user`,
        PROVIDER_TIMEOUT: '2',
      },
    });
  });

  async function signInWithGitHub(): Promise<{ response: Response; ms: number }> {
    const browser = new TestBrowser();
    const login = await browser.get(gateway.app, `${GATEWAY}/login/gh`);
    expect(login.status).toBe(302);
    const callback = github.authorize(new URL(login.headers.get('location')!));
    const started = Date.now();
    const response = await browser.get(gateway.app, `${GATEWAY}/callback/gh?${callback}`);
    return { response, ms: Date.now() - started };
  }

  it('signs in when it behaves (the harness itself works)', async () => {
    const { response } = await signInWithGitHub();
    expect(response.status).toBe(302);
    expect(provider.requests('/api/v3/user/emails')).toBe(1);
  });

  it('a hanging /user/emails gives a 504 within PROVIDER_TIMEOUT', async () => {
    provider.misbehave('/api/v3/user/emails', 'hang');
    const { response, ms } = await signInWithGitHub();
    await expectCleanPage(response, 504, TIMEOUT_TITLE);
    expect(ms).toBeGreaterThanOrEqual(1900);
    expect(ms).toBeLessThan(4000);
    await nothingLeftOpen();
  });

  for (const how of ['html', 'not-json', 'huge'] as const) {
    it(`a /user/emails answering ${how} gives a clean 502 before the deadline`, async () => {
      provider.misbehave('/api/v3/user/emails', how);
      const { response, ms } = await signInWithGitHub();
      await expectCleanPage(response, 502, 'Your profile could not be read from the sign-in provider');
      expect(ms).toBeLessThan(1900);
      expect(lastError()).toMatchObject({ error: 'profile_unavailable', provider: 'gh' });
      await nothingLeftOpen();
    });
  }
});

describe('a failed discovery is retried by the next login after a short backoff, never kept', () => {
  it('a login within the backoff gets the failure at once, without asking the provider; the first after it discovers anew', async () => {
    provider.misbehave(DISCOVERY, 'html', { times: 1 });
    const first = await signIn('login');
    await expectCleanPage(first.response, 502, 'The sign-in provider cannot be reached');
    expect(first.response.headers.get('retry-after')).toBe(String(DISCOVERY_RETRY_BACKOFF));
    clock.advance(DISCOVERY_RETRY_BACKOFF - 1);
    const during = await signIn('login');
    expect(during.response.status).toBe(502);
    expect(during.response.headers.get('retry-after')).toBe('1');
    expect(provider.requests(DISCOVERY)).toBe(1);
    clock.advance(1);
    const after = await signIn('login');
    expect(after.response.status).toBe(302);
    expect(provider.requests(DISCOVERY)).toBe(2);
  });

  it('a provider that hung is not waited for again within the backoff: the next login gets its 504 at once', async () => {
    provider.misbehave(DISCOVERY, 'hang');
    const first = await signIn('login');
    expect(first.response.status).toBe(504);
    const during = await signIn('login');
    expect(during.response.status).toBe(504);
    expect(during.ms).toBeLessThan(500);
    expect(provider.requests(DISCOVERY)).toBe(1);
    provider.behave();
    clock.advance(DISCOVERY_RETRY_BACKOFF);
    expect((await signIn('login')).response.status).toBe(302);
  });

  it('logins at once during a discovery share it: one request to the provider', async () => {
    provider.misbehave(DISCOVERY, 'drip');
    const responses = await Promise.all([signIn('login'), signIn('login'), signIn('login')]);
    expect(responses.map(({ response }) => response.status)).toEqual([504, 504, 504]);
    expect(provider.requests(DISCOVERY)).toBe(1);
  });
});
