import fc from 'fast-check';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type IsolatedRedisStore, isolatedRedisStore, type TestApp } from '../support/app.js';
import { setCookieLines, TestBrowser } from '../support/browser.js';
import {
  checkAnswer,
  withinBound,
  cookies,
  type FuzzRequest,
  fuzzRequest,
  queryPairs,
  shapeOf,
  toRequest,
} from '../support/fuzz-requests.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { testRedis } from '../support/redis-server.js';
import { findLeaks, type Secret } from '../support/secrets.js';

/**
 * Thousands of generated requests through the real app on a real Redis, with a provider mocked at
 * the network edge (msw, unhandled requests are errors). No answer may be a 5xx: Redis is up and the
 * provider answers, so neither a 503 (store outage) nor a 502 is genuine here, except a 502 for the
 * callback of a real login that the provider's token endpoint refused, or that carries the
 * provider's own error (see `genuine502`). No request may hang,
 * and nothing may reject unhandled. Every answer has its request id and the security headers, and
 * no stack trace. A failure prints fast-check's seed and path: replay it with
 * FUZZ_SEED=<seed> (and FUZZ_PATH=<path>) in the environment.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const SEED = process.env.FUZZ_SEED === undefined ? Date.now() ^ (Math.random() * 0x100000000) : Number(process.env.FUZZ_SEED);
/** A generous bound: a request that takes this long is stuck, not slow. */

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const redis = await testRedis();

let isolated: IsolatedRedisStore;
/** Two gateways on one Redis: PUBLIC_URL at the root, and under a path (`/sso`). */
let gateways: { origin: string; gateway: TestApp }[];
/** A real session token, for `Authorization` and the token cookie; /logout in the fuzz may revoke it. */
let sessionToken: string;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  msw.listen({ onUnhandledRequest: 'error' });
  process.on('unhandledRejection', onUnhandled);
  isolated = await isolatedRedisStore(redis.url);
  // Every request comes from one (unknown) address: limits that count it, but that 10,000 requests never reach.
  const env = {
    ...idp.env('corp'),
    ALLOWED_REDIRECTS: 'https://app.example.com',
    FLOW_TTL: '300',
    RATE_LIMIT_LOGIN: '1000000/600s',
    RATE_LIMIT_CALLBACK: '1000000/600s',
    RATE_LIMIT_REFRESH: '1000000/600s',
  };
  gateways = [
    { origin: 'https://gateway.test', gateway: await buildTestApp({ store: isolated.store, env }) },
    {
      origin: 'https://gateway.test/sso',
      gateway: await buildTestApp({ store: isolated.store, env: { ...env, PUBLIC_URL: 'https://gateway.test/sso' } }),
    },
  ];
  const browser = new TestBrowser();
  const app = gateways[0]!.gateway.app;
  const login = await browser.get(app, 'https://gateway.test/login/corp');
  await browser.get(app, `https://gateway.test/callback/corp?${idp.authorize(login.headers.get('location')!, { sub: 'fuzz' })}`);
  sessionToken = (await browser.cookie('https://gateway.test', '__Host-auth_token'))!.value;
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  msw.close();
  await isolated.close();
  await redis.stop();
});

/** A callback of a login really started, with the fuzz's noise: the real state and flow cookie, a real or garbage code. */
interface LiveCallback {
  readonly kind: 'live';
  readonly method: 'GET' | 'POST';
  readonly code: 'valid' | 'garbage' | 'none';
  readonly iss: 'right' | 'wrong' | 'none';
  readonly repeatState: boolean;
  readonly noise: [string, string | undefined][];
  readonly cookies: readonly (readonly [string, string])[];
  readonly contentType: string;
  /** The flow cookie as the login set it, its value replaced, its signature broken, gone, or twice (with a garbage twin). */
  readonly flowCookie: 'real' | 'garbage' | 'forged' | 'missing' | 'twin-before' | 'twin-after';
  readonly garbage: string;
}

const liveCallback: fc.Arbitrary<LiveCallback> = fc.record({
  kind: fc.constant('live' as const),
  method: fc.constantFrom('GET' as const, 'POST' as const),
  code: fc.constantFrom('valid' as const, 'garbage' as const, 'none' as const),
  iss: fc.constantFrom('right' as const, 'wrong' as const, 'none' as const),
  repeatState: fc.boolean(),
  noise: queryPairs,
  cookies,
  contentType: fc.constantFrom('application/x-www-form-urlencoded', 'text/plain'),
  flowCookie: fc.constantFrom(
    'real' as const,
    'garbage' as const,
    'forged' as const,
    'missing' as const,
    'twin-before' as const,
    'twin-after' as const,
  ),
  garbage: fc.constantFrom('', '%', '%E0%A4%A', 'x.', '.', 'a.b', '"', '""', 'x.%zz', '=%3D'),
});

type FuzzCase = ({ kind: 'request' } & FuzzRequest) | LiveCallback;

const fuzzCase: fc.Arbitrary<{ target: number; input: FuzzCase }> = fc.record({
  target: fc.constantFrom(0, 1),
  input: fc.oneof(
    { weight: 9, arbitrary: fuzzRequest.map((request) => ({ kind: 'request' as const, ...request })) },
    { weight: 1, arbitrary: liveCallback },
  ),
});

/** The flow cookie(s) a live callback sends, from `name=value` as the login set it. */
function flowCookieOf(cookie: string, live: LiveCallback): string[] {
  const name = cookie.slice(0, cookie.indexOf('='));
  const value = cookie.slice(name.length + 1);
  switch (live.flowCookie) {
    case 'real':
      return [cookie];
    case 'garbage':
      return [`${name}=${live.garbage}`];
    case 'forged':
      return [`${name}=${value.slice(0, value.indexOf('.'))}.${encodeURIComponent('A'.repeat(43))}%3D`];
    case 'missing':
      return [];
    case 'twin-before':
      return [`${name}=${live.garbage}`, cookie];
    case 'twin-after':
      return [cookie, `${name}=${live.garbage}`];
  }
}

/** Sends the browser to `/login/corp`, then builds the callback the case describes with its flow cookie. */
async function liveRequest(gateway: TestApp, origin: string, live: LiveCallback): Promise<{ request: Request; secrets: Secret[] }> {
  const login = await gateway.app.fetch(new Request(`${origin}/login/corp`));
  expect(login.status).toBe(302);
  const setFlow = login.headers.getSetCookie()[0]!.split(';')[0]!;
  const flowCookie = flowCookieOf(setFlow, live);
  const location = login.headers.get('location')!;
  const granted = idp.authorize(location, { sub: 'fuzz-live' });
  const secrets = [
    { name: 'state', value: granted.get('state')! },
    { name: 'code', value: granted.get('code')! },
    { name: 'flow cookie', value: setFlow.slice(setFlow.indexOf('=') + 1) },
  ];
  const params = new URLSearchParams({ state: granted.get('state')! });
  if (live.repeatState) params.append('state', granted.get('state')!);
  if (live.code !== 'none') params.set('code', live.code === 'valid' ? granted.get('code')! : 'not-a-code');
  if (live.iss !== 'none') params.set('iss', live.iss === 'right' ? idp.issuer : 'https://evil.example.net');
  const noise = live.noise.map(([key, value]) => (value === undefined ? key : `${key}=${value}`)).join('&');
  const query = [params.toString(), noise].filter(Boolean).join('&');
  const cookieHeader = [...flowCookie, ...live.cookies.map(([name, value]) => `${name}=${value}`)].join('; ');
  const url = `${origin}/callback/corp`;
  if (live.method === 'GET') return { request: new Request(`${url}?${query}`, { headers: { cookie: cookieHeader } }), secrets };
  const headers = { cookie: cookieHeader, 'content-type': live.contentType };
  return { request: new Request(url, { method: 'POST', headers, body: query }), secrets };
}

/**
 * The request of a case (a generated one may carry the real session token as its token cookie),
 * and the secrets it carries, which no log line may show.
 */
async function requestOf(target: { origin: string; gateway: TestApp }, input: FuzzCase): Promise<{ request: Request; secrets: Secret[] }> {
  if (input.kind === 'live') return liveRequest(target.gateway, target.origin, input);
  const withSession = input.cookies.some(([name]) => name === '__Host-auth_token') ? [] : [['__Host-auth_token', sessionToken] as const];
  const request = toRequest(target.origin, input, input.path.length % 3 === 0 ? withSession : []);
  return { request, secrets: [{ name: 'session token', value: sessionToken }] };
}

/** The token a response set, if it set one: a secret too. */
function issuedSecrets(response: Response): Secret[] {
  const token = setCookieLines(response).get('__Host-auth_token');
  const value = token?.slice(token.indexOf('=') + 1, token.indexOf(';'));
  return value && value.length >= 8 ? [{ name: 'issued token', value }] : [];
}

const describeCase = (input: FuzzCase) =>
  input.kind === 'live'
    ? `live callback ${input.method} code=${input.code} iss=${input.iss} repeatState=${input.repeatState} flowCookie=${input.flowCookie}`
    : shapeOf(input);

/**
 * The only 5xx answers that are genuine here: a callback of a real login that reached the provider's
 * token endpoint and was refused there, or one that carries the provider's own `error` (other than
 * access_denied: RFC 6749, 4.1.2.1), which portero reports as the provider's failure.
 */
function genuine502(status: number, code: unknown, input: FuzzCase, reachedProvider: boolean): boolean {
  if (status !== 502 || input.kind !== 'live') return false;
  return (code === 'token_exchange_failed' && reachedProvider) || code === 'provider_error';
}

describe('fuzzing the gateway with generated requests', () => {
  it(`answers ${RUNS} generated requests without a 5xx, a hang or an unhandled rejection`, { timeout: 600_000 }, async () => {
    const slowest: { ms: number; what: string }[] = [];
    const statuses = new Map<number, number>();
    const started = performance.now();
    const property = fc.asyncProperty(fuzzCase, async ({ target, input }) => {
      const gateway = gateways[target]!;
      const what = `${gateway.origin} ${describeCase(input)}`;
      // Each run starts clean, so a shrunk counterexample is the request that caused the rejection.
      unhandled.splice(0);
      const { request, secrets } = await requestOf(gateway, input);
      const exchangesBefore = idp.tokenRequests.length;
      const t0 = performance.now();
      const response = await withinBound(Promise.resolve(gateway.gateway.app.fetch(request)), what);
      const body = await withinBound(response.text(), what);
      const ms = performance.now() - t0;
      slowest.push({ ms, what });
      slowest.sort((a, b) => b.ms - a.ms).splice(5);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const { logs } = gateway.gateway;
      const line = logs.lines.at(-1);
      const leaks = findLeaks(
        logs.raw.map((text) => ({ source: 'pino', text })),
        [...secrets, ...issuedSecrets(response)],
      );
      logs.lines.splice(0);
      logs.raw.splice(0);
      if (leaks.length > 0) throw new Error(`a secret in the log after ${what}:\n${leaks.join('\n')}`);
      if (response.status >= 500 && !genuine502(response.status, line?.error, input, idp.tokenRequests.length > exchangesBefore)) {
        throw new Error(`${response.status} for ${what}; log: ${JSON.stringify(line).slice(0, 600)}`);
      }
      checkAnswer(response, body, what);
      // Node reports an unhandled rejection once the microtasks have run: give it that turn.
      await new Promise((resolve) => setImmediate(resolve));
      if (unhandled.length > 0) throw new Error(`unhandled rejection during ${what}: ${String(unhandled[0])}`);
    });
    const path = process.env.FUZZ_PATH;
    const details = await fc.check(property, { numRuns: RUNS, seed: SEED, ...(path ? { path } : {}) });
    if (details.failed) {
      const replay = `replay: FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath} npx vitest run test/http/fuzz.test.ts`;
      throw new Error(`${fc.defaultReportMessage(details)}\n${replay}`, { cause: details.errorInstance });
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      [
        `fuzz: ${RUNS} requests in ${seconds} s (seed ${SEED}); statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
        'slowest:',
        ...slowest.map(({ ms, what }) => `  ${ms.toFixed(1)} ms  ${what}`),
      ].join('\n'),
    );
    expect(unhandled).toEqual([]);
  });
});
