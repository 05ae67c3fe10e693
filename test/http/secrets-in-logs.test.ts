import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { format } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildTestApp, type IsolatedRedisStore, isolatedRedisStore, type TestApp } from '../support/app.js';
import { setCookieLines, TestBrowser } from '../support/browser.js';
import { OP_ACCOUNTS, type OidcOp, signInAtOp, startOidcOp } from '../support/oidc-op.js';
import { testRedis } from '../support/redis-server.js';
import { type CapturedLine, findLeaks, type Secret } from '../support/secrets.js';

/**
 * At LOG_LEVEL=trace, the most an operator can ask for, no line portero writes (nor ioredis's debug
 * output, nor anything on the console) holds a secret of a login: the authorization code, state,
 * nonce, PKCE verifier, flow and token cookies, the issued token, the provider's tokens, the client
 * secret, COOKIE_SECRET. The provider is a real one (oidc-provider on loopback, in this process),
 * so every value is the one that went over the wire.
 */

// ioredis writes its debug output (every command and its arguments) through the `debug` package.
const debug = createRequire(import.meta.url)('debug') as {
  enable(namespaces: string): void;
  disable(): string;
  log: (...args: unknown[]) => void;
};

const GATEWAY = 'https://gateway.test';
const COOKIE_SECRET = randomBytes(32).toString('base64url');
const redis = await testRedis();
const ALICE = OP_ACCOUNTS.alice!;

let op: OidcOp;
let isolated: IsolatedRedisStore;
let gateway: TestApp;
let captured: CapturedLine[];

beforeAll(async () => {
  op = await startOidcOp({ redirectUris: [`${GATEWAY}/callback/corp`] });
});
afterAll(async () => {
  await op.close();
  await redis.stop();
});

beforeEach(async () => {
  captured = [];
  isolated = await isolatedRedisStore(redis.url);
  gateway = await buildTestApp({ store: isolated.store, env: { ...op.env('corp'), LOG_LEVEL: 'trace', COOKIE_SECRET } });
  debug.log = (...args: unknown[]) => captured.push({ source: 'ioredis debug', text: format(...args) });
  debug.enable('ioredis:*');
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) =>
      captured.push({ source: `console.${method}`, text: format(...args) }),
    );
  }
});
afterEach(async () => {
  debug.disable();
  vi.restoreAllMocks();
  await isolated.close();
});

/** Every line written so far: the gateway's own (pino, at trace), ioredis's debug output, the console. */
function allLines(...apps: TestApp[]): CapturedLine[] {
  return [...apps.flatMap((app) => app.logs.raw.map((text) => ({ source: 'pino', text }))), ...captured];
}

/** The value of the cookie `name` a response set, as it went over the wire. */
function cookieValue(response: Response, name: (cookieName: string) => boolean): string {
  const line = [...setCookieLines(response).entries()].find(([cookieName]) => name(cookieName))?.[1];
  if (!line) throw new Error('the response set no such cookie');
  return line.slice(line.indexOf('=') + 1, line.indexOf(';'));
}

/** A JWT, and its signature alone: either is enough to forge or replay. */
const jwtSecrets = (name: string, jwt: string): Secret[] => [
  { name, value: jwt },
  { name: `${name} signature`, value: jwt.split('.')[2]! },
];

/** A flow cookie as sent, as Hono reads it (URL-decoded), and the flow id it signs. */
function flowCookieSecrets(value: string): Secret[] {
  const decoded = decodeURIComponent(value);
  return [
    { name: 'flow cookie', value },
    { name: 'flow cookie (decoded)', value: decoded },
    { name: 'flow id', value: decoded.split('.')[0]! },
    { name: 'flow cookie signature', value: decoded.split('.')[1]! },
  ];
}

/** Starts a login at the gateway and signs in as alice at the provider: the secrets so far and the callback URL. */
async function loginUntilCallback(browser: TestBrowser, app: TestApp) {
  const login = await browser.get(app.app, `${GATEWAY}/login/corp?return_to=/after`);
  expect(login.status).toBe(302);
  const authorization = new URL(login.headers.get('location')!);
  const callback = await signInAtOp(browser, authorization, 'alice', ALICE.password);
  const secrets: Secret[] = [
    { name: 'state', value: authorization.searchParams.get('state')! },
    { name: 'nonce', value: authorization.searchParams.get('nonce')! },
    { name: 'authorization code', value: callback.searchParams.get('code')! },
    ...flowCookieSecrets(cookieValue(login, (name) => name.startsWith('__Host-portero_flow_'))),
  ];
  return { callback, secrets };
}

const always: () => Secret[] = () => [
  { name: 'client secret', value: op.clientSecret },
  { name: 'COOKIE_SECRET', value: COOKIE_SECRET },
];

describe('at LOG_LEVEL=trace, no log line holds a secret', () => {
  it('through a whole login: authorization, callback, /auth (cookie and Bearer), /userinfo, /logout', async () => {
    const browser = new TestBrowser();
    const { callback, secrets } = await loginUntilCallback(browser, gateway);
    const done = await browser.get(gateway.app, callback, undefined, { from: op.issuer });
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toBe(`${GATEWAY}/after`);

    const token = cookieValue(done, (name) => name === '__Host-auth_token');
    const exchange = op.tokenExchanges.at(-1)!;
    expect(exchange.code).toBe(callback.searchParams.get('code'));
    secrets.push(
      { name: 'PKCE code_verifier', value: exchange.codeVerifier! },
      { name: "provider's access token", value: exchange.accessToken! },
      ...jwtSecrets("provider's ID token", exchange.idToken!),
      ...jwtSecrets('issued token (__Host-auth_token cookie)', token),
      ...always(),
    );

    expect((await browser.get(gateway.app, `${GATEWAY}/auth`)).status).toBe(200);
    expect((await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await browser.get(gateway.app, `${GATEWAY}/userinfo`)).status).toBe(200);
    expect((await browser.get(gateway.app, `${GATEWAY}/logout`)).status).toBe(302);
    // The revoked token, presented again both ways.
    expect((await gateway.app.request(`${GATEWAY}/auth`, { headers: { cookie: `__Host-auth_token=${token}` } })).status).toBe(401);
    expect((await gateway.app.request(`${GATEWAY}/userinfo`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);

    const lines = allLines(gateway);
    // The trace level and the capture work: every request has its line, ioredis its debug output.
    expect(lines.filter((line) => line.source === 'pino').length).toBeGreaterThanOrEqual(8);
    expect(lines.some((line) => line.source === 'ioredis debug')).toBe(true);
    expect(findLeaks(lines, secrets)).toEqual([]);
  });

  it('when the token endpoint refuses the code', async () => {
    const browser = new TestBrowser();
    const { callback, secrets } = await loginUntilCallback(browser, gateway);
    const refused = randomBytes(24).toString('base64url');
    callback.searchParams.set('code', refused);
    const response = await browser.get(gateway.app, callback, { accept: 'application/json' }, { from: op.issuer });
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ error: 'token_exchange_failed' });
    const exchange = op.tokenExchanges.at(-1)!;
    expect(exchange).toMatchObject({ code: refused, status: 400 });
    secrets.push({ name: 'refused code', value: refused }, { name: 'PKCE code_verifier', value: exchange.codeVerifier! }, ...always());
    expect(findLeaks(allLines(gateway), secrets)).toEqual([]);
  });

  it('when the provider refuses the client secret', async () => {
    const wrongSecret = randomBytes(24).toString('base64url');
    const misconfigured = await buildTestApp({
      store: isolated.store,
      env: { ...op.env('corp'), PROVIDER_CORP_CLIENT_SECRET: wrongSecret, LOG_LEVEL: 'trace', COOKIE_SECRET },
    });
    const browser = new TestBrowser();
    const { callback, secrets } = await loginUntilCallback(browser, misconfigured);
    const response = await browser.get(misconfigured.app, callback, undefined, { from: op.issuer });
    expect(response.status).toBe(502);
    expect(op.tokenExchanges.at(-1)!.status).toBe(401);
    secrets.push({ name: 'wrong client secret', value: wrongSecret }, ...always());
    expect(findLeaks(allLines(misconfigured), secrets)).toEqual([]);
  });

  it('when the flow cookie is forged', async () => {
    const browser = new TestBrowser();
    const { callback, secrets } = await loginUntilCallback(browser, gateway);
    const [flow] = (await browser.cookies(GATEWAY)).filter((cookie) => cookie.key.startsWith('__Host-portero_flow_'));
    const forged = `${flow!.value.split('.')[0]}.${randomBytes(32).toString('base64')}`;
    const response = await gateway.app.request(callback, { headers: { cookie: `${flow!.key}=${encodeURIComponent(forged)}` } });
    expect(response.status).toBe(400);
    expect(gateway.logs.lines.at(-1)).toMatchObject({ error: 'flow_invalid', reason: 'bad cookie signature' });
    secrets.push(...flowCookieSecrets(encodeURIComponent(forged)).map((s) => ({ ...s, name: `forged ${s.name}` })), ...always());
    expect(findLeaks(allLines(gateway), secrets)).toEqual([]);
  });
});
