import { readFile } from 'node:fs/promises';
import { decodeJwt, decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createVerifier, PorteroTokenError, type Verifier } from '../../src/verify/index.js';
import { network, TestBrowser } from '../support/browser.js';
import { later } from '../support/clock.js';
import { startE2eStack, type E2eStack } from '../support/e2e-stack.js';
import { OP_ACCOUNTS, signInAtOp } from '../support/oidc-op.js';
import { runToExit } from '../support/process.js';
import { assertPythonJwt, startPythonBackend, type PythonBackend } from '../support/python.js';

// A key rotation as an operator does it, seen from outside: `npm run keys` (`node dist/cli/keys.js`) rewrites the JWT_KEYS
// file the two gateway processes behind nginx share, the processes are restarted one at a time,
// and every party that checks portero's tokens keeps accepting the ones issued before and after:
// nginx's auth_request (portero's /auth), a Python backend (examples/python/app.py, PyJWT) and a
// Node backend (portero/verify, in this process and as plain `node examples/node/verify.mjs`),
// each fetching the keys through nginx. Dropping the old key refuses its tokens everywhere.
// The processes also reload the file by themselves when it changes (test/dev/key-reload.test.ts
// follows the README's runbook that way); the restarts here are the rollout of an operator whose
// instances each hold a copy, and what they assert holds whichever of the two comes first.

const AUDIENCE = 'reports';
const NODE_EXAMPLE = 'examples/node/verify.mjs';

let stack: E2eStack;
/** Started before any rotation: its PyJWKClient has only the first key cached when the second's tokens arrive. */
let python: PythonBackend;
/** Built before any rotation, as a Node service holds one for its lifetime. */
let verifier: Verifier;
/** The first key's kid, and tokens signed by the first and by the second key (set by the first test). */
let kidA: string;
let t1: string | undefined;
let t2: string | undefined;

/** `npm run keys -- --out <JWT_KEYS> --<mode>`: the operator's script, on the stack's key file. */
async function keys(mode: 'rotate' | 'stage' | 'promote'): Promise<string> {
  const result = await runToExit(process.execPath, ['dist/cli/keys.js', '--out', stack.jwtKeysFile, `--${mode}`]);
  expect(result.code, `keys --${mode}:\n${result.stderr}`).toBe(0);
  return result.stderr;
}

/** The kids in the JWT_KEYS file, signing key first. */
async function kidsInFile(): Promise<string[]> {
  return ((JSON.parse(await readFile(stack.jwtKeysFile, 'utf8')) as JSONWebKeySet).keys ?? []).map((key) => String(key.kid));
}

/** The kids the JWKS through nginx lists, asked `times` times (nginx alternates between the two processes). */
async function publishedKids(times = 2): Promise<string[][]> {
  const lists: string[][] = [];
  for (let i = 0; i < times; i++) {
    const response = await fetch(`${stack.url}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    lists.push(((await response.json()) as JSONWebKeySet).keys.map((key) => String(key.kid)).sort());
  }
  return lists;
}

/** Alice signs in through nginx at the provider; the token portero set in her cookie. */
async function signIn(): Promise<string> {
  const browser = new TestBrowser();
  const start = await browser.get(network, `${stack.url}/login/${stack.providerId}`);
  expect(start.status, await start.clone().text()).toBe(302);
  const callback = await browser.get(
    network,
    await signInAtOp(browser, start.headers.get('location')!, 'alice', OP_ACCOUNTS.alice!.password),
  );
  expect(callback.status, await callback.clone().text()).toBe(302);
  const cookie = await browser.cookie(stack.url, 'auth_token');
  if (!cookie) throw new Error('signed in, but no auth_token cookie');
  return cookie.value;
}

/** The Python backend's settings: this stack's tokens, keys fetched through nginx. */
// portero runs on plain http here, so its token cookie is auth_token, not app.py's default __Host-auth_token.
const pythonConfig = () => ({ issuer: stack.url, jwksUrl: `${stack.url}/.well-known/jwks.json`, audience: AUDIENCE, cookie: 'auth_token' });

const kidOf = (token: string) => decodeProtectedHeader(token).kid;

/** The protected app through nginx (auth_request to portero's /auth) with the token as the browser's cookie. */
async function app(token: string): Promise<{ status: number; body: string; location: string | null }> {
  const response = await fetch(`${stack.url}/app/rotation`, { headers: { cookie: `auth_token=${token}` }, redirect: 'manual' });
  return { status: response.status, body: await response.text(), location: response.headers.get('location') };
}

/** The Python backend's answer to the token as a cookie and as a Bearer header (the same, or the test says so). */
async function askPython(token: string, backend = python): Promise<{ status: number; body: unknown }> {
  const answers = await Promise.all(
    (
      [
        ['cookie', `auth_token=${token}`],
        ['authorization', `Bearer ${token}`],
      ] as const
    ).map(async ([name, value]) => {
      const headers = { [name]: value };
      const response = await fetch(`${backend.url}/`, { headers });
      return { status: response.status, body: (await response.json()) as unknown };
    }),
  );
  expect(answers[1], `cookie and Bearer header answered differently:\n${backend.output()}`).toEqual(answers[0]);
  return answers[0]!;
}

/** Plain node running the example that imports `portero/verify` from dist/ (built by test/global-setup.ts). */
const nodeExample = (token: string) =>
  runToExit(process.execPath, [NODE_EXAMPLE, token, `${stack.url}/.well-known/jwks.json`, stack.url, AUDIENCE]);

/** The code of the PorteroTokenError a verification threw. */
async function refusedWith(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    (claims) => expect.fail(`accepted: ${JSON.stringify(claims)}`),
    (err: unknown) => err,
  );
  expect(err).toBeInstanceOf(PorteroTokenError);
  return (err as PorteroTokenError).code;
}

const alice = { user: 'corp:alice', email: OP_ACCOUNTS.alice!.email };

/** Stage: key B is added second, published but not signing, and rolled out one process at a time. B's kid. */
async function stageAndRollOut(): Promise<string> {
  const staged = await keys('stage');
  const afterStage = await kidsInFile();
  expect(afterStage).toHaveLength(2);
  expect(afterStage[0]).toBe(kidA);
  const kidB = afterStage[1]!;
  expect(staged).toContain(`keys: new key kid ${kidB}, alg ES256 (published, not signing yet)`);
  expect(staged).toContain(`keys: signing key kid ${kidA}`);
  await stack.restartGateway(0);
  // Mid-rollout both processes still sign with A (one knows B, the other not yet). nginx alternates
  // strictly and a login is two requests to portero (/login, then /callback, which signs): one more
  // request between two logins lands their callbacks on different processes.
  expect(kidOf(await signIn())).toBe(kidA);
  await publishedKids(1);
  expect(kidOf(await signIn())).toBe(kidA);
  await stack.restartGateway(1);
  // Both processes publish both keys, through nginx; signing is still A's.
  expect(await publishedKids()).toEqual([[kidA, kidB].sort(), [kidA, kidB].sort()]);
  expect(kidOf(await signIn())).toBe(kidA);
  return kidB;
}

/**
 * Promote: B signs. Restart process a only: its tokens carry kid B, and process b, on the staged
 * file unless it has reloaded the promoted one already, takes them either way, so the rollout
 * refuses no one. Then restart b.
 */
async function promoteAndRollOut(kidB: string): Promise<void> {
  const promoted = await keys('promote');
  expect(await kidsInFile()).toEqual([kidB, kidA]);
  expect(promoted).toContain(`keys: signing key kid ${kidB}`);
  await stack.restartGateway(0);
  let fromA: string | undefined;
  for (let attempt = 0; attempt < 4 && !fromA; attempt++) {
    const token = await signIn();
    if (kidOf(token) === kidB) fromA = token;
    else {
      expect(kidOf(token)).toBe(kidA);
      await publishedKids(1);
    }
  }
  if (!fromA) throw new Error('four logins after restarting process a were all signed with the old key: a did not sign any');
  for (let i = 0; i < 2; i++) {
    // Twice: nginx asks /auth of each process in turn.
    expect(await app(fromA), `auth_request ${i + 1} with a token of the promoted key`).toMatchObject({ status: 200 });
  }
  await stack.restartGateway(1);
}

/** After the rotation, T1 (old key) and T2 (new key) pass nginx, the Python backend, the Node verifier built before, and plain node. */
async function expectBothTakenEverywhere(t1: string, t2: string): Promise<void> {
  // Each twice in a row: nginx asks /auth of each process in turn.
  for (const token of [t1, t1, t2, t2]) {
    expect(await app(token)).toMatchObject({ status: 200, body: expect.stringContaining('hello corp:alice') });
  }

  // The Python backend, whose PyJWKClient cached only A, fetches the keys again for B's kid.
  expect(await askPython(t2), python.output()).toEqual({ status: 200, body: alice });
  expect(await askPython(t1), python.output()).toEqual({ status: 200, body: alice });

  // The Node verifier built before the rotation: jose fetches keys for an unknown kid at most once
  // per 30 s, and this rollout took less; a real one takes minutes. Its clock moves on by that much.
  later(31);
  await expect(verifier.verify(t2)).resolves.toMatchObject({ sub: 'corp:alice', aud: AUDIENCE });
  await expect(verifier.verify(t1)).resolves.toMatchObject({ sub: 'corp:alice', aud: AUDIENCE });
  vi.useRealTimers();

  // Plain node and the built package, fetching the keys through nginx afresh.
  for (const token of [t1, t2]) {
    const result = await nodeExample(token);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(decodeJwt(token));
  }
}

describe('rotating the signing key of two processes behind nginx', () => {
  let startFailure: unknown;
  beforeAll(async () => {
    try {
      assertPythonJwt();
      stack = await startE2eStack({ env: { JWT_AUDIENCE: AUDIENCE } });
      python = await startPythonBackend(pythonConfig());
      verifier = createVerifier({ issuer: stack.url, audience: AUDIENCE, algorithms: ['ES256'] });
    } catch (err) {
      startFailure = err;
    }
  }, 60_000);
  beforeEach(() => {
    if (startFailure) throw startFailure;
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(async () => {
    const stopped = await Promise.allSettled([python?.stop(), stack?.stop()]);
    for (const result of stopped) if (result.status === 'rejected') throw result.reason;
  });

  it('stage, roll out, promote, roll out: tokens of the old and the new key pass nginx and both backends throughout', async () => {
    // Before: one key, A. Alice's token T1 is signed with it and every checker takes it.
    const initial = await kidsInFile();
    expect(initial).toHaveLength(1);
    kidA = initial[0]!;
    expect(await publishedKids()).toEqual([[kidA], [kidA]]);
    t1 = await signIn();
    expect(kidOf(t1)).toBe(kidA);
    expect(await app(t1)).toMatchObject({ status: 200, body: expect.stringContaining('hello corp:alice') });
    expect(await askPython(t1)).toEqual({ status: 200, body: alice });
    await expect(verifier.verify(t1)).resolves.toMatchObject({ sub: 'corp:alice', aud: AUDIENCE });

    // Stage B, roll it out; promote B, roll it out.
    const kidB = await stageAndRollOut();
    await promoteAndRollOut(kidB);

    // After: every login is signed with B; T1 (A) and T2 (B) are both taken everywhere.
    t2 = await signIn();
    expect(kidOf(t2)).toBe(kidB);
    expect(kidB).not.toBe(kidA);
    await expectBothTakenEverywhere(t1, t2);
  }, 90_000);

  it('a rotation that drops the old key: its tokens are refused everywhere, the newer ones still pass', async () => {
    if (!t1 || !t2) throw new Error('this test needs the tokens of the previous one, which failed');
    const kidB = kidOf(t2)!;

    // Two more rotations: at most three keys are kept, so A, the oldest, goes. All restart at once.
    await keys('rotate');
    const dropped = await keys('rotate');
    expect(dropped).toContain(`keys: dropped (oldest): kid ${kidA}`);
    const kids = await kidsInFile();
    expect(kids).toHaveLength(3);
    expect(kids).not.toContain(kidA);
    expect(kids).toContain(kidB);
    await Promise.all([stack.restartGateway(0), stack.restartGateway(1)]);
    for (const published of await publishedKids()) expect(published).toEqual([...kids].sort());
    expect(kidOf(await signIn())).toBe(kids[0]);

    // nginx: T1 now sends Alice to sign in (both processes, in turn); T2 still opens the app.
    for (let i = 0; i < 2; i++) {
      const refused = await app(t1);
      expect(refused.status).toBe(302);
      expect(new URL(refused.location!).searchParams.get('return_to')).toBe(`${stack.url}/app/rotation`);
    }
    for (let i = 0; i < 2; i++) expect(await app(t2)).toMatchObject({ status: 200, body: expect.stringContaining('hello corp:alice') });

    // A Python backend (re)started now refuses T1 as an invalid token, and takes T2.
    const restarted = await startPythonBackend(pythonConfig());
    try {
      expect(await askPython(t1, restarted), restarted.output()).toEqual({ status: 401, body: { error: 'invalid_token' } });
      expect(await askPython(t2, restarted), restarted.output()).toEqual({ status: 200, body: alice });
    } finally {
      await restarted.stop();
    }

    // Node: a verifier built now refuses T1; the one built before does too once its key cache
    // (10 minutes) has aged, and keeps taking T2.
    const fresh = createVerifier({ issuer: stack.url, audience: AUDIENCE, algorithms: ['ES256'] });
    expect(await refusedWith(fresh.verify(t1))).toBe('invalid_token');
    await expect(fresh.verify(t2)).resolves.toMatchObject({ sub: 'corp:alice' });
    later(15 * 60);
    expect(await refusedWith(verifier.verify(t1))).toBe('invalid_token');
    await expect(verifier.verify(t2)).resolves.toMatchObject({ sub: 'corp:alice' });
    vi.useRealTimers();

    // Plain node: T1 refused with one line, T2's claims printed.
    const refused = await nodeExample(t1);
    expect(refused.code, refused.stdout).toBe(1);
    expect(refused.stderr.trim()).toMatch(/^token refused: invalid_token: /);
    const accepted = await nodeExample(t2);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(JSON.parse(accepted.stdout)).toEqual(decodeJwt(t2));
  }, 60_000);
});
