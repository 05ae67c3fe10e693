import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsApp } from '../../src/app.js';
import { Metrics } from '../../src/metrics.js';
import { buildTestApp, isolatedRedisStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { family, parseSamples, type Sample, sampleValue } from '../support/prometheus.js';
import { startRedisServer, testRedis } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';

// What an operator's Prometheus reads at /metrics after real requests: the numbers, their labels,
// and nothing of the user's.

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const redis = await testRedis();
const GATEWAY = 'https://gateway.test';
const closing: (() => Promise<void>)[] = [];

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterEach(async () => {
  for (const close of closing.splice(0)) await close();
});
afterAll(async () => {
  msw.close();
  await redis.stop();
});

async function gatewayWith(env: Record<string, string> = {}, metrics?: Metrics): Promise<TestApp> {
  const isolated = await isolatedRedisStore(redis.url);
  closing.push(() => isolated.close());
  return buildTestApp({ store: isolated.store, env: { ...idp.env('corp'), ...env }, ...(metrics ? { metrics } : {}) });
}

const ADA = { sub: 'u-ada-4711', claims: { email: 'ada.lovelace@corp.example', email_verified: true, name: 'Ada Lovelace' } };

async function signIn(gateway: TestApp, browser: TestBrowser, base = GATEWAY): Promise<Response> {
  const login = await browser.get(gateway.app, `${base}/login/corp`);
  expect(login.status).toBe(302);
  return browser.get(gateway.app, `${base}/callback/corp?${idp.authorize(login.headers.get('location')!, ADA)}`);
}

/** GET /metrics on the app, as Prometheus scrapes it: the samples. */
async function scrape(gateway: TestApp, url = `${GATEWAY}/metrics`): Promise<{ samples: Sample[]; text: string }> {
  const response = await gateway.app.request(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  const text = await response.text();
  return { samples: parseSamples(text), text };
}

describe('GET /metrics after a day in the life of a gateway', () => {
  it('counts logins started, completed and failed, /auth results, a rate-limited login and a logout, by their labels', async () => {
    const gateway = await gatewayWith({ RATE_LIMIT_LOGIN: '2/60s' });
    const browser = new TestBrowser();
    expect((await signIn(gateway, browser)).status).toBe(302);
    const token = (await browser.cookie(GATEWAY, '__Host-auth_token'))!.value;

    // A login the user cancels at the provider: the callback fails with the provider's access_denied.
    const other = new TestBrowser();
    const cancelled = await other.get(gateway.app, `${GATEWAY}/login/corp`);
    const denied = await other.get(gateway.app, `${GATEWAY}/callback/corp?${idp.deny(cancelled.headers.get('location')!)}`);
    expect(denied.status).toBe(401);
    // The third login within the minute is refused, and is no login started.
    expect((await browser.get(gateway.app, `${GATEWAY}/login/corp`)).status).toBe(429);
    // A callback naming no configured provider counts as no provider's failure.
    expect((await browser.get(gateway.app, `${GATEWAY}/callback/nope?state=x`)).status).toBe(400);

    expect((await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await gateway.app.request(`${GATEWAY}/auth`)).status).toBe(401);
    expect(
      (await gateway.app.request(`${GATEWAY}/auth?allowed_groups=admins`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(403);
    expect((await browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST', from: GATEWAY })).status).toBe(302);
    expect((await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);

    const { samples, text } = await scrape(gateway);
    expect(family(samples, 'portero_logins_started_total')).toEqual({ 'provider=corp': 2 });
    expect(family(samples, 'portero_logins_completed_total')).toEqual({ 'provider=corp': 1 });
    expect(family(samples, 'portero_tokens_issued_total')).toEqual({ 'provider=corp': 1 });
    expect(family(samples, 'portero_logins_failed_total')).toEqual({ 'provider=corp,reason=access_denied': 1 });
    expect(family(samples, 'portero_callback_duration_seconds_count')).toEqual({ 'provider=corp': 2 });
    expect(family(samples, 'portero_auth_requests_total')).toEqual({
      'result=ok': 1,
      'result=unauthenticated': 2,
      'result=forbidden': 1,
      'result=error': 0,
    });
    expect(family(samples, 'portero_rate_limited_total')).toEqual({ 'limit=login': 1 });
    expect(family(samples, 'portero_sessions_ended_total')).toEqual({ 'kind=logout': 1 });
    expect(family(samples, 'portero_store_errors_total')).toMatchObject({ 'operation=get_and_delete': 0, 'operation=rate_limit': 0 });
    // Store commands were timed: the two flows consumed; three logins and three callbacks counted
    // against their limits (the refused login and the unknown provider's callback too).
    expect(sampleValue(samples, 'portero_store_command_duration_seconds_count', { operation: 'get_and_delete' })).toBe(2);
    expect(sampleValue(samples, 'portero_store_command_duration_seconds_count', { operation: 'rate_limit' })).toBe(6);

    // Nothing of the user's, nor the token, nor the session: labels are portero's own ids.
    const sid = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string;
    for (const secret of [ADA.sub, 'corp:u-ada-4711', ADA.claims.email, 'Ada', token, token.split('.')[2]!, sid]) {
      expect(text).not.toContain(secret);
    }
  });

  it('has one callback in the histogram for one callback, in every bucket it fits', async () => {
    const gateway = await gatewayWith();
    await signIn(gateway, new TestBrowser());
    const { samples } = await scrape(gateway);
    expect(sampleValue(samples, 'portero_callback_duration_seconds_count', { provider: 'corp' })).toBe(1);
    expect(sampleValue(samples, 'portero_callback_duration_seconds_bucket', { provider: 'corp', le: '+Inf' })).toBe(1);
    expect(sampleValue(samples, 'portero_callback_duration_seconds_sum', { provider: 'corp' })).toBeGreaterThan(0);
    // Cumulative buckets, as Prometheus reads them: never fewer below than above.
    const buckets = samples.filter((sample) => sample.name === 'portero_callback_duration_seconds_bucket').map((sample) => sample.value);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });

  it('shows a configured provider at 0 before its first login, so a rate over it needs no first request', async () => {
    const { samples } = await scrape(await gatewayWith());
    expect(family(samples, 'portero_logins_started_total')).toEqual({ 'provider=corp': 0 });
    expect(family(samples, 'portero_logins_completed_total')).toEqual({ 'provider=corp': 0 });
    expect(family(samples, 'portero_logins_failed_total')).toEqual({});
  });

  it('counts a login at /login/corp/, which the routes take as /login/corp, as corp’s', async () => {
    const gateway = await gatewayWith();
    expect((await new TestBrowser().get(gateway.app, `${GATEWAY}/login/corp/`)).status).toBe(302);
    expect(family((await scrape(gateway)).samples, 'portero_logins_started_total')).toEqual({ 'provider=corp': 1 });
  });

  it('counts two apps in one process apart: each has a registry of its own', async () => {
    const first = await gatewayWith();
    const second = await gatewayWith();
    await signIn(first, new TestBrowser());
    expect(family((await scrape(first)).samples, 'portero_logins_completed_total')).toEqual({ 'provider=corp': 1 });
    expect(family((await scrape(second)).samples, 'portero_logins_completed_total')).toEqual({ 'provider=corp': 0 });
  });

  it('serves the process metrics of a registry that collects them, under their usual names', async () => {
    const gateway = await gatewayWith({}, new Metrics({ processMetrics: true }));
    const { samples } = await scrape(gateway);
    const names = new Set(samples.map((sample) => sample.name));
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(names, name).toContain(name);
    }
    expect(sampleValue(samples, 'process_cpu_seconds_total')).toBeGreaterThan(0);
  });

  it('counts under PUBLIC_URL’s path too, where /metrics is served with every other route', async () => {
    const gateway = await gatewayWith({ PUBLIC_URL: 'https://gateway.test/sso', PROVIDER_CORP_ALLOWED_EMAIL_DOMAINS: 'company.com' });
    const refused = await signIn(gateway, new TestBrowser(), `${GATEWAY}/sso`);
    expect(refused.status).toBe(403);
    expect((await gateway.app.request(`${GATEWAY}/sso/auth`)).status).toBe(401);
    expect((await gateway.app.request(`${GATEWAY}/metrics`)).status).toBe(404);
    const { samples } = await scrape(gateway, `${GATEWAY}/sso/metrics`);
    expect(family(samples, 'portero_logins_started_total')).toEqual({ 'provider=corp': 1 });
    expect(family(samples, 'portero_logins_failed_total')).toEqual({ 'provider=corp,reason=not_allowed': 1 });
    expect(sampleValue(samples, 'portero_auth_requests_total', { result: 'unauthenticated' })).toBe(1);
  });
});

describe('the security events a route reports', () => {
  it('counts each session_ended by its reason as kind, and token_renewed by provider and via', async () => {
    const gateway = await gatewayWith();
    // What the session routes report as they end and renew sessions, from a route of the test's own.
    gateway.app.post('/test/events', (c) => {
      c.set('securityEvents', [
        { event: 'session_ended', fields: { sub: 'corp:u-ada-4711', sid: 's1', provider: 'corp', reason: 'idle' } },
        { event: 'session_ended', fields: { sub: 'corp:u-ada-4711', sid: 's2', provider: 'corp', reason: 'backchannel' } },
        { event: 'session_ended', fields: { sub: 'corp:u-ada-4711', sid: 's3', provider: 'corp', reason: 'idle' } },
        { event: 'token_renewed', fields: { sub: 'corp:u-ada-4711', sid: 's4', provider: 'corp', via: 'refresh' } },
        { event: 'token_renewed', fields: { sub: 'corp:u-ada-4711', sid: 's4', provider: 'corp', via: 'auth' } },
      ]);
      return c.body(null, 204);
    });
    expect((await gateway.app.request(`${GATEWAY}/test/events`, { method: 'POST' })).status).toBe(204);
    const { samples, text } = await scrape(gateway);
    expect(family(samples, 'portero_sessions_ended_total')).toEqual({ 'kind=idle': 2, 'kind=backchannel': 1 });
    expect(family(samples, 'portero_tokens_renewed_total')).toEqual({ 'provider=corp,via=refresh': 1, 'provider=corp,via=auth': 1 });
    expect(text).not.toContain('u-ada-4711');
    // The log and the numbers come from the same facts: one line per event.
    expect(gateway.logs.lines.filter((line) => line.event === 'session_ended')).toHaveLength(3);
  });
});

describe('store errors', () => {
  it('counts each failed store operation by its name, and /auth answering 503 as an error result', async () => {
    const server = await startRedisServer();
    const isolated = await isolatedRedisStore(server.url);
    closing.push(async () => {
      await isolated.close();
      await server.stop();
    });
    const gateway = await buildTestApp({ store: isolated.store, env: idp.env('corp') });
    const browser = new TestBrowser();
    await signIn(gateway, browser);
    const token = (await browser.cookie(GATEWAY, '__Host-auth_token'))!.value;
    await server.kill();

    expect((await browser.get(gateway.app, `${GATEWAY}/login/corp`)).status).toBe(503);
    expect((await gateway.app.request(`${GATEWAY}/readyz`)).status).toBe(503);
    // Once the feed of sign-outs is known lost, /auth asks the store of the token's session, and its 503 is an error.
    const answers: Record<number, number> = {};
    await pollUntil(
      async () => {
        const { status } = await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } });
        answers[status] = (answers[status] ?? 0) + 1;
        return status === 503;
      },
      { what: '/auth to answer 503 once the revocation feed is lost', timeoutMs: 10_000, intervalMs: 50 },
    );
    expect((await browser.request(gateway.app, `${GATEWAY}/logout`, { method: 'POST', from: GATEWAY })).status).toBe(503);

    const { samples } = await scrape(gateway);
    const failed = Object.entries(family(samples, 'portero_store_errors_total')).filter(([, count]) => count > 0);
    expect(family(samples, 'portero_auth_requests_total')).toEqual({
      'result=ok': answers[200] ?? 0,
      'result=unauthenticated': 0,
      'result=forbidden': 0,
      'result=error': 1,
    });
    // The login's limit, the readiness probe's ping, /auth's read of the session and the sign-out's
    // of its ID token (for the provider's logout), the sign-out's revocation.
    expect(Object.fromEntries(failed)).toEqual({ 'operation=rate_limit': 1, 'operation=ping': 1, 'operation=get': 2, 'operation=set': 1 });
    expect(sampleValue(samples, 'portero_store_command_duration_seconds_count', { operation: 'ping' })).toBe(1);
    expect(sampleValue(samples, 'portero_logins_started_total', { provider: 'corp' })).toBe(1);
  });
});

describe('with METRICS_PORT set', () => {
  it('answers 404 for /metrics on the gateway, and serves it on the metrics app only', async () => {
    const metrics = new Metrics();
    const gateway = await gatewayWith({ METRICS_PORT: '9464' }, metrics);
    await signIn(gateway, new TestBrowser());
    const publicScrape = await gateway.app.request(`${GATEWAY}/metrics`, { headers: { accept: 'application/json' } });
    expect(publicScrape.status).toBe(404);
    expect(await publicScrape.json()).toMatchObject({ error: 'not_found' });

    const metricsApp = createMetricsApp(metrics);
    const response = await metricsApp.request('http://127.0.0.1:9464/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(metrics.registry.contentType);
    expect(family(parseSamples(await response.text()), 'portero_logins_completed_total')).toEqual({ 'provider=corp': 1 });
    // Nothing else there: no sign-in page, no /auth, no keys.
    for (const path of ['/', '/auth', '/healthz', '/.well-known/jwks.json']) {
      expect((await metricsApp.request(`http://127.0.0.1:9464${path}`)).status, path).toBe(404);
    }
  });
});
