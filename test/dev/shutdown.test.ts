import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { network, setCookieLines, TestBrowser } from '../support/browser.js';
import { HostileProvider } from '../support/hostile-provider.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { type GatewayProcess, startGateway } from '../support/process.js';
import { testRedis } from '../support/redis-server.js';

// SIGTERM, as an orchestrator sends it, while a login's callback waits on a slow provider (a real
// HTTP server whose token endpoint holds its answer until the test lets it go): the gateway stops
// taking connections at once, lets the callback finish, closes Redis and exits 0. A request
// that outlasts SHUTDOWN_TIMEOUT is cut short, and the exit says so: a line and code 1.

let provider: HostileProvider;
let idp: MockOidcProvider;
let redis: { url: string; stop(): Promise<void> };

beforeAll(async () => {
  provider = await HostileProvider.start();
  idp = await new MockOidcProvider(provider.origin).init();
  provider.upstream = idp;
  redis = await testRedis();
});
afterAll(async () => {
  await provider?.close();
  await redis?.stop();
});

/** A login as far as its callback, which is sent (not awaited) while the provider's token endpoint holds its answer. */
async function callbackWaitingOnTheProvider(gateway: GatewayProcess) {
  const browser = new TestBrowser();
  const login = await browser.get(network, `${gateway.url}/login/corp`);
  expect(login.status, await login.clone().text()).toBe(302);
  const held = provider.hold('/token');
  const params = idp.authorize(login.headers.get('location')!, { sub: 'u-1', claims: { email: 'u@example.test', email_verified: true } });
  const callback = browser.get(network, `${gateway.url}/callback/corp?${params}`);
  callback.catch(() => {}); // Awaited by the test; a cut-short callback rejects before that.
  await held.arrived;
  return { callback, release: held.release };
}

/** The gateway's first log line of `event`, once written. */
async function lineOf(gateway: GatewayProcess, event: string): Promise<Record<string, unknown>> {
  const line = () => gateway.logLines().find((each) => each.event === event);
  await expect.poll(line, { timeout: 15_000, message: `no ${event} line in:\n${gateway.logs()}` }).toBeDefined();
  return line()!;
}

/** How a GET of `url` ended: its status, or the network error's code. */
const reach = (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(2000) }).then(
    (response) => response.status,
    (err: Error) => (err.cause as NodeJS.ErrnoException | undefined)?.code ?? err.message,
  );

describe('SIGTERM during a slow callback', () => {
  let gateway: GatewayProcess;
  beforeAll(async () => {
    gateway = await startGateway({ env: { ...idp.env('corp'), REDIS_URL: redis.url } });
  });
  afterAll(() => gateway?.stop());

  it('refuses new connections, completes the callback with its redirect and cookie, closes Redis and exits 0', async () => {
    const { callback, release } = await callbackWaitingOnTheProvider(gateway);
    gateway.signal('SIGTERM');
    expect(await lineOf(gateway, 'shutdown_started')).toMatchObject({ signal: 'SIGTERM', in_flight: 1, timeout_s: 10 });
    expect(await reach(`${gateway.url}/healthz`)).toBe('ECONNREFUSED');

    release();
    const response = await callback;
    expect(response.status, await response.clone().text()).toBe(302);
    expect(response.headers.get('location')).toBe(`${gateway.url}/`);
    expect(setCookieLines(response).get('auth_token')).toMatch(/^auth_token=eyJ/);
    expect(await gateway.exited).toBe(0);
    expect(await lineOf(gateway, 'shutdown_complete')).toMatchObject({ level: 'info' });
    expect(gateway.logLines().some((line) => line.event === 'shutdown_forced')).toBe(false);
  });
});

describe('a request that outlasts SHUTDOWN_TIMEOUT', () => {
  let gateway: GatewayProcess;
  let release: (() => void) | undefined;
  beforeAll(async () => {
    gateway = await startGateway({ env: { ...idp.env('corp'), REDIS_URL: redis.url, SHUTDOWN_TIMEOUT: '1' } });
  });
  afterAll(async () => {
    release?.();
    await gateway?.stop();
  });

  it('is cut short: the exit code is 1 and the log says the shutdown was forced, and how many requests it cut', async () => {
    const waiting = await callbackWaitingOnTheProvider(gateway);
    release = waiting.release;
    gateway.signal('SIGTERM');
    expect(await gateway.exited).toBe(1);
    await expect(waiting.callback).rejects.toThrow();
    expect(await lineOf(gateway, 'shutdown_forced')).toMatchObject({
      level: 'error',
      requests_cut_short: 1,
      timeout_s: 1,
      msg: 'shutdown forced after SHUTDOWN_TIMEOUT (1 s): 1 request(s) in flight cut short',
    });
    expect(gateway.logLines().some((line) => line.event === 'shutdown_complete')).toBe(false);
  });
});

describe('a connection that never finishes sending its request (slowloris)', () => {
  let gateway: GatewayProcess;
  beforeAll(async () => {
    gateway = await startGateway({ env: { ...idp.env('corp'), REDIS_URL: redis.url, SHUTDOWN_TIMEOUT: '5' } });
  });
  afterAll(() => gateway?.stop());

  it('holds no shutdown up: it is no request in flight, so the drain ends at once with exit 0, and its connection is closed', async () => {
    const { hostname, port } = new URL(gateway.url);
    const socket = connect(Number(port), hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', () => {});
    // Half a request line's headers, and then nothing, as a slowloris client drips them.
    socket.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Slow: ');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const signalled = Date.now();
    gateway.signal('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(3000);
    expect(await lineOf(gateway, 'shutdown_complete')).toMatchObject({ level: 'info' });
    await closed;
  });
});
