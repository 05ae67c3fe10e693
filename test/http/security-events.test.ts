import { Writable } from 'node:stream';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, prettyDestination } from '../../src/logger.js';
import { buildTestApp, memoryStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { refusedProblems } from '../support/config.js';
import { MockOidcProvider } from '../support/mock-oidc.js';

// The log an operator alerts on: one line per request with its route, and one per security
// event, under a stable `event`, carrying ids and names only.

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const GATEWAY = 'https://gateway.test';

const gatewayWith = (env: Record<string, string> = {}) => buildTestApp({ store: memoryStore(), env: { ...idp.env('corp'), ...env } });

async function signIn(gateway: TestApp, browser: TestBrowser, email = 'ada@corp.example') {
  const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
  const params = idp.authorize(login.headers.get('location') ?? '', { sub: 'ada', claims: { email, email_verified: true } });
  return browser.get(gateway.app, `${GATEWAY}/callback/corp?${params}`);
}

const events = (gateway: TestApp, name: string) => gateway.logs.lines.filter((line) => line.event === name);

describe('security events in the log', () => {
  it('logs login_completed with the provider, subject and session, beside the request line of its route', async () => {
    const gateway = await gatewayWith();
    const browser = new TestBrowser();
    expect((await signIn(gateway, browser)).status).toBe(302);
    const [completed] = events(gateway, 'login_completed');
    const request = gateway.logs.lines.find((line) => line.path === '/callback/corp' && line.event === undefined);
    expect(request).toMatchObject({ route: '/callback/:provider', method: 'GET', status: 302 });
    expect(completed).toMatchObject({ level: 'info', provider: 'corp', sub: 'corp:ada', request_id: request?.request_id });
    expect(completed?.sid).toEqual(expect.any(String));
    const token = (await browser.cookie(GATEWAY, '__Host-auth_token'))?.value ?? '';
    expect(gateway.logs.raw.join('\n')).not.toContain(token);
  });

  it('logs session_ended for each session /logout revokes, and nothing for a sign-out without one', async () => {
    const gateway = await gatewayWith();
    const browser = new TestBrowser();
    await signIn(gateway, browser);
    const sid = events(gateway, 'login_completed')[0]?.sid;
    const out = await browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST', from: GATEWAY });
    expect(out.status).toBe(302);
    expect(events(gateway, 'session_ended')).toEqual([
      expect.objectContaining({ sub: 'corp:ada', sid, provider: 'corp', reason: 'logout' }),
    ]);
    await browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST', from: GATEWAY });
    expect(events(gateway, 'session_ended')).toHaveLength(1);
  });

  it('logs login_refused with the rule that refused, and not for an app’s rule at /auth', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_ALLOWED_EMAIL_DOMAINS: 'company.com' });
    expect((await signIn(gateway, new TestBrowser(), 'mallory@evil.com')).status).toBe(403);
    expect(events(gateway, 'login_refused')).toEqual([
      expect.objectContaining({ provider: 'corp', rule: 'PROVIDER_CORP_ALLOWED_EMAIL_DOMAINS', reason: 'email domain' }),
    ]);
    const browser = new TestBrowser();
    await signIn(gateway, browser, 'ada@company.com');
    const token = (await browser.cookie(GATEWAY, '__Host-auth_token'))?.value ?? '';
    const auth = await gateway.app.request(`${GATEWAY}/auth?allowed_groups=admins`, { headers: { authorization: `Bearer ${token}` } });
    expect(auth.status).toBe(403);
    expect(events(gateway, 'login_refused')).toHaveLength(1);
  });

  it('logs login_refused under PUBLIC_URL’s path too, where every route is registered below it', async () => {
    const gateway = await gatewayWith({ PUBLIC_URL: `${GATEWAY}/sso`, PROVIDER_CORP_ALLOWED_EMAIL_DOMAINS: 'company.com' });
    const browser = new TestBrowser();
    const login = await browser.get(gateway.app, `${GATEWAY}/sso/login/corp`);
    const params = idp.authorize(login.headers.get('location') ?? '', {
      sub: 'ada',
      claims: { email: 'mallory@evil.com', email_verified: true },
    });
    expect((await browser.get(gateway.app, `${GATEWAY}/sso/callback/corp?${params}`)).status).toBe(403);
    expect(events(gateway, 'login_refused')).toEqual([expect.objectContaining({ provider: 'corp', reason: 'email domain' })]);
  });

  it('logs rate_limited with the limit that refused', async () => {
    const gateway = await gatewayWith({ RATE_LIMIT_LOGIN: '1/60s' });
    const browser = new TestBrowser();
    await browser.get(gateway.app, `${GATEWAY}/login/corp`);
    expect((await browser.get(gateway.app, `${GATEWAY}/login/corp`)).status).toBe(429);
    expect(events(gateway, 'rate_limited')).toEqual([expect.objectContaining({ limit: 'login', client_ip: expect.any(String) })]);
  });
});

describe('LOG_FORMAT', () => {
  it('is json or pretty, nothing else', () => {
    expect(refusedProblems({ LOG_FORMAT: 'xml' })).toEqual(['LOG_FORMAT must be json or pretty, got "xml"']);
  });

  it('pretty writes the same record as a line a person reads, not JSON', async () => {
    let written = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        written += String(chunk);
        done();
      },
    });
    const logger = createLogger('info', prettyDestination(sink), 'a');
    logger.info({ event: 'login_completed', provider: 'corp' }, 'login completed');
    expect(written).toContain('login completed');
    expect(written).toContain('provider: "corp"');
    expect(written.trimStart().startsWith('{')).toBe(false);
  });
});
