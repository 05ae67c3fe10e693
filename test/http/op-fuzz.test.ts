import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser.js';
import { checkAnswer, withinBound } from '../support/fuzz-requests.js';
import { type OpFuzzRequest, opFuzzRequest, opShapeOf, UID } from '../support/op-fuzz-requests.js';
import { APP_ONE_SECRET, type PorteroOpStack, startPorteroOp } from '../support/portero-op.js';
import { findLeaks, type Secret } from '../support/secrets.js';

/**
 * Generated requests to portero's OpenID Provider over real HTTP (it takes Node's own request), at
 * a PUBLIC_URL at the root and one under a path (`/sso`), with apps registered, the upstream
 * provider up and the store in memory: no answer may be a 5xx,
 * none may hang, nothing may reject unhandled; every answer has its request id and portero's
 * security headers, and no stack trace; no log line holds a secret. A share of the requests carry
 * a real browser's session (portero's token cookie and the provider's session cookie), or a live
 * interaction's cookies and uid, so the interaction route and the patched Session.get see real
 * state under the noise. A failure prints fast-check's seed and path: replay it with
 * OP_FUZZ_SEED=<seed> (and OP_FUZZ_PATH=<path>).
 */

const RUNS = Number(process.env.OP_FUZZ_RUNS ?? 1500);
const SEED = process.env.OP_FUZZ_SEED === undefined ? Date.now() ^ (Math.random() * 0x100000000) : Number(process.env.OP_FUZZ_SEED);

/** The stacks under fuzz: PUBLIC_URL at the root and under a path (`/sso`), each with a browser signed in to app one. */
let targets: { stack: PorteroOpStack; signedIn: TestBrowser }[];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
/** What the HTTP server wrote on the console (`@hono/node-server` reports a response it could not write there). */
const serverErrors: string[] = [];
const consoleError = console.error;

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  console.error = (...args: unknown[]) => {
    serverErrors.push(args.map(String).join(' ').slice(0, 300));
  };
  const env = {
    RATE_LIMIT_TOKEN: '1000000/600s',
    RATE_LIMIT_LOGIN: '1000000/600s',
    RATE_LIMIT_CALLBACK: '1000000/600s',
    APP_ONE_OFFLINE_ACCESS: 'true',
    APP_ONE_RESOURCES: 'https://api.one.example',
  };
  targets = [];
  for (const options of [{}, { basePath: '/sso' }]) {
    const stack = await startPorteroOp(env, options);
    const signedIn = new TestBrowser();
    await stack.appSignIn(signedIn, 'one');
    targets.push({ stack, signedIn });
  }
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  console.error = consoleError;
  for (const { stack } of targets) await stack.close();
});

type Live = 'none' | 'session' | 'interaction';

/** The cookies of the signed-in browser, as a `Cookie` header's pairs, and their values, which no log line may show. */
type Target = (typeof targets)[number];

async function browserCookies({ stack, signedIn }: Target): Promise<{ pairs: string[]; secrets: Secret[] }> {
  const cookies = await signedIn.cookies(`${stack.publicUrl}/authorize`);
  return {
    pairs: cookies.map((cookie) => `${cookie.key}=${cookie.value}`),
    secrets: cookies.filter((cookie) => cookie.value.length >= 8).map((cookie) => ({ name: `cookie ${cookie.key}`, value: cookie.value })),
  };
}

/** A live interaction of the signed-in browser (prompt=login): its uid and cookies. */
async function liveInteraction(target: Target): Promise<{ uid: string; pairs: string[] }> {
  const { stack } = target;
  const query = new URLSearchParams({
    client_id: 'one',
    response_type: 'code',
    scope: 'openid',
    prompt: 'login',
    redirect_uri: `${stack.appsUrl}/one/callback`,
  });
  const { pairs } = await browserCookies(target);
  const started = await fetch(`${stack.publicUrl}/authorize?${query}`, { headers: { cookie: pairs.join('; ') }, redirect: 'manual' });
  expect(started.status).toBe(303);
  const uid = new URL(started.headers.get('location')!, stack.publicUrl).pathname.split('/').at(-1)!;
  return { uid, pairs: [...pairs, ...started.headers.getSetCookie().map((line) => line.split(';')[0]!)] };
}

async function requestOf(target: Target, input: OpFuzzRequest, live: Live): Promise<{ request: Request; secrets: Secret[] }> {
  const { stack } = target;
  const session = live === 'none' ? { pairs: [], secrets: [] } : await browserCookies(target);
  const interaction = live === 'interaction' ? await liveInteraction(target) : undefined;
  const cookie = [...(interaction?.pairs ?? session.pairs), ...input.cookies.map(([name, value]) => `${name}=${value}`)].join('; ');
  const headers = new Headers();
  for (const [name, value] of input.headers) headers.append(name, value);
  if (cookie) headers.set('cookie', cookie);
  if (input.body) headers.set('content-type', input.body.contentType);
  const path = input.path.replace(UID, interaction?.uid ?? 'not-a-uid');
  const url = `${stack.publicUrl}${path}${input.query ? `?${input.query}` : ''}`;
  const init = { method: input.method, headers, redirect: 'manual' as const, ...(input.body ? { body: input.body.text } : {}) };
  return { request: new Request(url, init), secrets: [{ name: 'app one’s secret', value: APP_ONE_SECRET }, ...session.secrets] };
}

/** What the provider issued in an answer (a code in a redirect, tokens in a body): secrets too. */
function issuedSecrets(response: Response, body: string): Secret[] {
  const location = response.headers.get('location');
  const code = location ? new URL(location, 'http://any.example').searchParams.get('code') : null;
  const tokens = [...body.matchAll(/"(access_token|refresh_token|id_token)":"([^"]+)"/g)].map(([, name, value]) => ({
    name: name!,
    value: value!,
  }));
  return [...(code ? [{ name: 'code', value: code }] : []), ...tokens];
}

describe('fuzzing the OpenID Provider with generated requests', () => {
  it(`answers ${RUNS} generated requests without a 5xx, a hang, an unhandled rejection or a secret in the log`, {
    timeout: 600_000,
  }, async () => {
    const statuses = new Map<number, number>();
    // Each stack's apps are on servers of their own: a case is made with its target's URIs.
    const cases = fc.constantFrom(0, 1).chain((target) =>
      fc.record({
        target: fc.constant(target),
        input: opFuzzRequest(targets[target]!.stack.appsUrl, APP_ONE_SECRET),
        live: fc.constantFrom<Live>('none', 'none', 'session', 'interaction'),
      }),
    );
    const property = fc.asyncProperty(cases, async ({ target, input, live }) => {
      const { stack } = targets[target]!;
      const what = `${stack.publicUrl} ${opShapeOf(input)} live=${live}`;
      unhandled.splice(0);
      serverErrors.splice(0);
      const { logs } = stack.gateway;
      logs.lines.splice(0);
      logs.raw.splice(0);
      const { request, secrets } = await requestOf(targets[target]!, input, live);
      const sent = await withinBound(
        fetch(request).catch((err: unknown) => err as Error),
        what,
      );
      // What fetch refuses to send (a header value it will not write) never reaches portero.
      if (sent instanceof Error) return;
      const body = await withinBound(sent.text(), what);
      statuses.set(sent.status, (statuses.get(sent.status) ?? 0) + 1);
      const leaks = findLeaks(
        logs.raw.map((text) => ({ source: 'pino', text })),
        [...secrets, ...issuedSecrets(sent, body)],
      );
      if (leaks.length > 0) throw new Error(`a secret in the log after ${what}:\n${leaks.join('\n')}`);
      if (sent.status >= 500)
        throw new Error(`${sent.status} for ${what}; log: ${JSON.stringify(logs.lines.at(-1)).slice(0, 600)}; body: ${body.slice(0, 300)}`);
      // Node's own parser refuses headers too large for it before portero sees the request.
      if (sent.status !== 431) checkAnswer(sent, body, what);
      await new Promise((resolve) => setImmediate(resolve));
      if (unhandled.length > 0) throw new Error(`unhandled rejection during ${what}: ${String(unhandled[0])}`);
      if (serverErrors.length > 0) throw new Error(`the server reported an error for ${what}: ${serverErrors[0]}`);
    });
    const path = process.env.OP_FUZZ_PATH;
    const details = await fc.check(property, { numRuns: RUNS, seed: SEED, ...(path ? { path } : {}) });
    if (details.failed) {
      const replay = `replay: OP_FUZZ_SEED=${details.seed} OP_FUZZ_PATH=${details.counterexamplePath} npx vitest run test/http/op-fuzz.test.ts`;
      throw new Error(`${fc.defaultReportMessage(details)}\n${replay}`, { cause: details.errorInstance });
    }
    console.log(`op fuzz: ${RUNS} requests (seed ${SEED}); statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(unhandled).toEqual([]);
  });
});
