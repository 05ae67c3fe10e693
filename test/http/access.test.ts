import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupServer } from 'msw/node';
import { type ConfigError, parseConfig } from '../../src/config/parse.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type IsolatedRedisStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { redisForThisFile } from '../support/store-under-test.js';

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://gateway.test';
const TOKEN_COOKIE = '__Host-auth_token';

const redis = redisForThisFile();
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

async function gatewayWith(env: Record<string, string>): Promise<TestApp & { redisView: IsolatedRedisStore }> {
  const redisView = await redis.isolated();
  return { ...(await buildTestApp({ store: redisView.store, env: { ...idp.env('corp'), ...env } })), redisView };
}

/** A whole sign-in at the provider as a user with this email; the callback's answer. */
async function signInAs(gateway: TestApp, email: string, verified = true, headers: Record<string, string> = {}) {
  const browser = new TestBrowser();
  const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
  const params = idp.authorize(login.headers.get('location')!, { sub: `u-${email}`, claims: { email, email_verified: verified } });
  const response = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${params}`, headers);
  return { response, token: await browser.cookie(GATEWAY, TOKEN_COOKIE) };
}

describe('who may sign in', () => {
  it('lets in a verified address of an allowed domain, in any case or IDNA spelling', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_ALLOWED_EMAIL_DOMAINS: 'company.com,bücher.example' });
    for (const email of ['ada@company.com', 'Lin@COMPANY.com', 'kim@xn--bcher-kva.example']) {
      const { response, token } = await signInAs(gateway, email);
      expect(response.status, email).toBe(302);
      expect(token, email).toBeDefined();
    }
  });

  it.each([
    ['an address of another domain', 'mallory@evil.com', 'email domain'],
    ['a domain that merely ends with the allowed one', 'user@company.com.evil.com', 'email domain'],
    ['a subdomain, which is another domain', 'user@eu.company.com', 'email domain'],
    ['an address with two @ (a peer published this bypass)', 'attacker@evil.com@company.com', 'email not an address'],
    ['a look-alike domain', 'user@cοmpany.com', 'email domain'],
  ])('refuses %s with a 403 page naming the account, no token and no flow left', async (_, email, reason) => {
    const gateway = await gatewayWith({ PROVIDER_CORP_ALLOWED_EMAIL_DOMAINS: 'company.com' });
    const { response, token } = await signInAs(gateway, email);
    expect(response.status).toBe(403);
    const page = await response.text();
    expect(page).toContain('This account may not sign in here');
    expect(page).toContain('You signed in as <strong>');
    expect(page).toContain('href="/">Start again</a>');
    expect(token).toBeUndefined();
    expect(response.headers.getSetCookie().some((line) => line.startsWith(`${TOKEN_COOKIE}=`))).toBe(false);
    expect(await gateway.redisView.raw.keys(`${gateway.redisView.prefix}flow:*`)).toEqual([]);
    const line = gateway.logs.lines.find((entry) => entry.error === 'not_allowed');
    expect(line).toMatchObject({ status: 403, rule: 'PROVIDER_CORP_ALLOWED_EMAIL_DOMAINS', reason, level: 'info' });
  });

  it('refuses an allowed domain whose address the provider has not verified', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_ALLOWED_EMAIL_DOMAINS: 'company.com' });
    const { response, token } = await signInAs(gateway, 'ada@company.com', false);
    expect(response.status).toBe(403);
    expect(token).toBeUndefined();
    expect(gateway.logs.lines.find((entry) => entry.error === 'not_allowed')).toMatchObject({ reason: 'no verified email' });
  });

  it('lets in only the listed addresses with ALLOWED_EMAILS', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_ALLOWED_EMAILS: 'ada@company.com' });
    expect((await signInAs(gateway, 'ADA@company.com')).response.status).toBe(302);
    const refused = await signInAs(gateway, 'lin@company.com');
    expect(refused.response.status).toBe(403);
    expect(gateway.logs.lines.find((entry) => entry.error === 'not_allowed')).toMatchObject({ rule: 'PROVIDER_CORP_ALLOWED_EMAILS' });
  });

  it('combines the global and the provider rules by AND', async () => {
    const gateway = await gatewayWith({
      ALLOWED_EMAIL_DOMAINS: 'company.com',
      PROVIDER_CORP_ALLOWED_EMAILS: 'ada@company.com,kim@other.example',
    });
    expect((await signInAs(gateway, 'ada@company.com')).response.status).toBe(302);
    // Listed for the provider, but of a domain the global rule does not allow.
    expect((await signInAs(gateway, 'kim@other.example')).response.status).toBe(403);
    expect(gateway.logs.lines.find((entry) => entry.error === 'not_allowed')).toMatchObject({ rule: 'ALLOWED_EMAIL_DOMAINS' });
  });

  it('answers an API client with JSON', async () => {
    const gateway = await gatewayWith({ ALLOWED_EMAIL_DOMAINS: 'company.com' });
    const { response } = await signInAs(gateway, 'mallory@evil.com', true, { accept: 'application/json' });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'not_allowed' });
  });

  it('lets every user of a corporate IdP in when no rule is set', async () => {
    const gateway = await gatewayWith({});
    expect((await signInAs(gateway, 'anyone@anywhere.example')).response.status).toBe(302);
  });
});

describe("/auth's rules for one location", () => {
  const auth = (gateway: TestApp, token: string, query: string) =>
    gateway.app.request(`${GATEWAY}/auth?${query}`, { headers: { authorization: `Bearer ${token}` } });

  it('narrow who passes: a signed-in user who does not qualify gets 403, not a sign-in redirect', async () => {
    const gateway = await gatewayWith({});
    const ada = (await signInAs(gateway, 'ada@company.com')).token!.value;
    const mallory = (await signInAs(gateway, 'mallory@evil.com')).token!.value;
    const unverified = (await signInAs(gateway, 'kim@company.com', false)).token!.value;

    expect((await auth(gateway, ada, 'allowed_email_domains=company.com')).status).toBe(200);
    expect((await auth(gateway, ada, 'allowed_emails=ADA@company.com')).status).toBe(200);
    for (const [token, query] of [
      [mallory, 'allowed_email_domains=company.com'],
      [unverified, 'allowed_email_domains=company.com'],
      [ada, 'allowed_emails=lin@company.com'],
      // Both given: both must pass.
      [ada, 'allowed_email_domains=company.com&allowed_emails=lin@company.com'],
    ] as const) {
      const response = await auth(gateway, token, query);
      expect(response.status, query).toBe(403);
      expect(response.headers.get('x-auth-request-redirect'), query).toBeNull();
      expect(response.headers.get('x-auth-request-user'), query).toBeNull();
    }
    // Without a rule, every signed-in user passes, as before.
    expect((await auth(gateway, mallory, '')).status).toBe(200);
  });

  it('answers a rule it cannot read with 400, naming it in the log', async () => {
    const gateway = await gatewayWith({});
    const ada = (await signInAs(gateway, 'ada@company.com')).token!.value;
    expect((await auth(gateway, ada, 'allowed_email_domains=*.company.com')).status).toBe(400);
    expect(gateway.logs.lines.at(-1)).toMatchObject({ error: 'bad_request', reason: expect.stringContaining('allowed_email_domains') });
  });
});

describe('_ALLOWED_EMAILS_FILE', () => {
  it('lets in the addresses of the file, and reads it again when it changes, without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portero-emails-'));
    const file = join(dir, 'allowed.txt');
    writeFileSync(file, '# the team\nada@company.com\n\nLin@Company.com  # on leave from May\n');
    const gateway = await gatewayWith({ PROVIDER_CORP_ALLOWED_EMAILS_FILE: file });
    expect((await signInAs(gateway, 'ada@company.com')).response.status).toBe(302);
    expect((await signInAs(gateway, 'lin@company.com')).response.status).toBe(302);
    expect((await signInAs(gateway, 'kim@company.com')).response.status).toBe(403);

    // The operator edits it: kim in, lin out. A new size or modification time is read again.
    writeFileSync(file, 'ada@company.com\nkim@company.com\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect((await signInAs(gateway, 'kim@company.com')).response.status).toBe(302);
    expect((await signInAs(gateway, 'lin@company.com')).response.status).toBe(403);

    // Gone for a moment (a deploy replacing it): the addresses last read still hold, no one else.
    rmSync(file);
    expect((await signInAs(gateway, 'kim@company.com')).response.status).toBe(302);
    expect((await signInAs(gateway, 'mallory@evil.com')).response.status).toBe(403);
    // Said once in the log, not at every login while it stays gone.
    const unreadable = gateway.logs.lines.filter((line) => line.event === 'emails_file_unreadable');
    expect(unreadable).toEqual([expect.objectContaining({ level: 'warn', path: file, code: 'ENOENT' })]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops start-up for a file it cannot read, or a line that is no address, naming the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portero-emails-'));
    const file = join(dir, 'allowed.txt');
    writeFileSync(file, 'ada@company.com\nnot an address\n');
    const problems = (env: Record<string, string>) => {
      try {
        parseConfig({ ...idp.env('corp'), ...env });
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problems({ PROVIDER_CORP_ALLOWED_EMAILS_FILE: file })).toEqual([
      `PROVIDER_CORP_ALLOWED_EMAILS_FILE ${file}: line 2 is not an email address`,
    ]);
    expect(problems({ PROVIDER_CORP_ALLOWED_EMAILS_FILE: join(dir, 'missing.txt') })).toEqual([
      `PROVIDER_CORP_ALLOWED_EMAILS_FILE names ${join(dir, 'missing.txt')}, which cannot be read (ENOENT)`,
    ]);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('_ALLOWED_GROUPS', () => {
  /** A sign-in as a user whose ID token and userinfo say these groups (under `claim`). */
  async function signInWithGroups(gateway: TestApp, groups: unknown, claim = 'groups') {
    const browser = new TestBrowser();
    const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
    const claims = { email: 'ada@company.com', email_verified: true, [claim]: groups };
    const response = await browser.get(
      gateway.app,
      `${GATEWAY}/callback/corp?${idp.authorize(login.headers.get('location')!, { sub: 'ada', claims })}`,
    );
    return { response, token: await browser.cookie(GATEWAY, TOKEN_COOKIE) };
  }
  const claimsOf = (token: string) =>
    JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;

  it('lets in a member of one of the groups, case-insensitively, and the token carries those groups only', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_ALLOWED_GROUPS: 'Admins,ops' });
    const { response, token } = await signInWithGroups(gateway, ['staff', 'admins', 'OPS']);
    expect(response.status).toBe(302);
    expect(claimsOf(token!.value).groups).toEqual(['Admins', 'ops']);
  });

  it('refuses a user in none of them, or whose provider says no groups at all', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_ALLOWED_GROUPS: 'admins' });
    for (const groups of [['staff'], [], 'staff', undefined, [{ name: 'admins' }]]) {
      const { response, token } = await signInWithGroups(gateway, groups);
      expect(response.status, JSON.stringify(groups)).toBe(403);
      expect(token).toBeUndefined();
    }
    expect(gateway.logs.lines.find((line) => line.error === 'not_allowed')).toMatchObject({
      rule: 'PROVIDER_CORP_ALLOWED_GROUPS',
      reason: 'in no allowed group',
    });
  });

  it('compares groups by A to Z only: a Kelvin sign (U+212A) in a group the user named is no K', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_ALLOWED_GROUPS: 'kube-admins' });
    expect((await signInWithGroups(gateway, ['\u212Aube-admins'])).response.status).toBe(403);
    expect((await signInWithGroups(gateway, ['KUBE-admins'])).response.status).toBe(302);
  });

  it('reads the groups from _GROUPS_CLAIM (Keycloak roles, Entra groups, ...)', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_ALLOWED_GROUPS: 'admins', PROVIDER_CORP_GROUPS_CLAIM: 'roles' });
    expect((await signInWithGroups(gateway, ['admins'], 'roles')).response.status).toBe(302);
    expect((await signInWithGroups(gateway, ['admins'], 'groups')).response.status).toBe(403);
  });

  it('keeps the cookie small for a user in 500 groups: only the named ones are carried', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_ALLOWED_GROUPS: 'group-7,group-123' });
    const many = Array.from({ length: 500 }, (_, i) => `group-${i}-${'x'.repeat(20)}`).concat(['group-7', 'group-123']);
    const { response, token } = await signInWithGroups(gateway, many);
    expect(response.status).toBe(302);
    expect(claimsOf(token!.value).groups).toEqual(['group-7', 'group-123']);
    expect(token!.value.length).toBeLessThan(3800);
  });

  it('passes them to the app (X-Auth-Request-Groups), and /auth?allowed_groups= narrows who passes', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_ALLOWED_GROUPS: 'admins,ops' });
    const { token } = await signInWithGroups(gateway, ['ops']);
    const auth = (query: string) =>
      gateway.app.request(`${GATEWAY}/auth?${query}`, { headers: { authorization: `Bearer ${token!.value}` } });
    const passed = await auth('');
    expect(passed.status).toBe(200);
    expect(passed.headers.get('x-auth-request-groups')).toBe('ops');
    expect((await auth('allowed_groups=OPS')).status).toBe(200);
    expect((await auth('allowed_groups=admins')).status).toBe(403);
  });
});

describe("/auth's rules, as the proxy wrote them", () => {
  it.each([
    ['empty (a template variable that expanded to nothing)', 'allowed_email_domains='],
    ['only commas or spaces', 'allowed_groups=%20,%20'],
    ['given twice', 'allowed_email_domains=&allowed_email_domains=company.com'],
    ['misspelt', 'allowed_group=admins'],
    ['in another case', 'Allowed_Email_Domains=company.com'],
  ])('refuses a rule %s with 400 rather than reading it as no rule', async (_, query) => {
    const gateway = await gatewayWith({});
    const mallory = (await signInAs(gateway, 'mallory@evil.example')).token!.value;
    const response = await gateway.app.request(`${GATEWAY}/auth?${query}`, { headers: { authorization: `Bearer ${mallory}` } });
    expect(response.status).toBe(400);
    expect(gateway.logs.lines.at(-1)).toMatchObject({ error: 'bad_request' });
  });
});
