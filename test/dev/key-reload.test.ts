import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { network, TestBrowser } from '../support/browser.js';
import { signInAtOp } from '../support/oidc-op.js';
import { type GatewayProcess, runToExit, startGateway } from '../support/process.js';

// README "Rotating the signing key (runbook)", command by command, on a running `node dist/main.js`
// whose JWT_KEYS file `npm run keys` (`node dist/cli/keys.js`, what it runs once dist/ is built)
// rewrites: no restart. The runbook's waits are for backends' caches of the key set; the
// gateway's own /auth has none to wait for, so the test goes on at each `keys_reloaded` line.
// Tokens come from signing in at the gateway's built-in development IdP.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portero-key-reload-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `npm run keys -- --out <file> [--<mode>]`: the runbook's command; its stderr. */
async function keys(file: string, mode?: 'stage' | 'promote' | 'retire'): Promise<string> {
  const result = await runToExit(process.execPath, ['dist/cli/keys.js', '--out', file, ...(mode ? [`--${mode}`] : [])]);
  expect(result.code, result.stderr).toBe(0);
  return result.stderr;
}

const kidsIn = async (file: string) =>
  ((JSON.parse(await readFile(file, 'utf8')) as JSONWebKeySet).keys ?? []).map((key) => String(key.kid));

/** "ada" signs in at the development IdP: the token portero set in her cookie. */
async function signIn(gateway: GatewayProcess): Promise<string> {
  const browser = new TestBrowser();
  const login = await browser.get(network, `${gateway.url}/login/dev`);
  expect(login.status).toBe(302);
  const callback = await browser.get(network, await signInAtOp(browser, login.headers.get('location')!, 'ada', 'anything'));
  expect(callback.status, await callback.clone().text()).toBe(302);
  return (await browser.cookie(gateway.url, 'auth_token'))!.value;
}

const auth = async (gateway: GatewayProcess, token: string) =>
  (await fetch(`${gateway.url}/auth`, { headers: { authorization: `Bearer ${token}` } })).status;

const publishedKids = async (gateway: GatewayProcess) =>
  ((await (await fetch(`${gateway.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet).keys.map((key) => String(key.kid));

const kidOf = (token: string) => decodeProtectedHeader(token).kid;

/** The `n`th (from 1) log line of `event`, once the gateway has written it. */
function nthLine(gateway: GatewayProcess, event: string, n: number): Promise<Record<string, unknown>> {
  const lines = () => gateway.logLines().filter((line) => line.event === event);
  return expect
    .poll(() => lines().length, { timeout: 10_000, message: `${event} line ${n} in:\n${gateway.logs()}` })
    .toBeGreaterThanOrEqual(n)
    .then(() => lines()[n - 1]!);
}

describe('the key-rotation runbook against a running gateway, which reloads JWT_KEYS when it changes', () => {
  let gateway: GatewayProcess;
  let file: string;
  beforeAll(async () => {
    file = join(dir, 'jwt-keys.json');
    await keys(file);
    gateway = await startGateway({ env: { JWT_KEYS: file } });
  });
  afterAll(() => gateway?.stop());

  it('stage, promote, retire: old tokens pass until the retire, new ones carry the new kid; a broken file is refused and the keys stay', async () => {
    const [kidA] = await kidsIn(file);
    const old = await signIn(gateway);
    expect(kidOf(old)).toBe(kidA);

    // 1-2. Stage; the gateway reloads by itself: both keys published, A still signs.
    await keys(file, 'stage');
    const staged = await nthLine(gateway, 'keys_reloaded', 1);
    const kidB = (await kidsIn(file))[1]!;
    expect(staged).toMatchObject({
      level: 'info',
      trigger: 'file_changed',
      path: file,
      kids: [kidA, kidB],
      signing_kid: kidA,
      added: [kidB],
    });
    expect(await publishedKids(gateway)).toEqual([kidA, kidB]);
    expect(kidOf(await signIn(gateway))).toBe(kidA);
    expect(await auth(gateway, old)).toBe(200);

    // 4-5. Promote: B signs; A's token still passes.
    await keys(file, 'promote');
    expect(await nthLine(gateway, 'keys_reloaded', 2)).toMatchObject({ kids: [kidB, kidA], signing_kid: kidB, added: [], removed: [] });
    const renewed = await signIn(gateway);
    expect(kidOf(renewed)).toBe(kidB);
    expect(await auth(gateway, old)).toBe(200);
    expect(await auth(gateway, renewed)).toBe(200);

    // 7-8. Retire: A is gone, and its token with it, though /auth had passed it a moment ago.
    const retired = await keys(file, 'retire');
    expect(retired).toContain(`keys: retired: kid ${kidA}`);
    expect(await nthLine(gateway, 'keys_reloaded', 3)).toMatchObject({ kids: [kidB], signing_kid: kidB, removed: [kidA] });
    expect(await auth(gateway, old)).toBe(401);
    expect(await auth(gateway, renewed)).toBe(200);
    expect(await publishedKids(gateway)).toEqual([kidB]);

    // A broken write (garbage over the file): refused with a warning naming the file, never a key; B stays in use.
    const good = await readFile(file, 'utf8');
    await writeFile(file, 'not a key file');
    const refused = await nthLine(gateway, 'keys_reload_refused', 1);
    expect(refused).toMatchObject({ level: 'warn', trigger: 'file_changed', path: file });
    expect(refused.reason).toMatch(/is not valid JSON/);
    expect(await auth(gateway, renewed)).toBe(200);
    expect(kidOf(await signIn(gateway))).toBe(kidB);
    expect(await publishedKids(gateway)).toEqual([kidB]);
    // The file mended: taken, and said so.
    await writeFile(file, good);
    expect(await nthLine(gateway, 'keys_reloaded', 4)).toMatchObject({ level: 'info', kids: [kidB], changed: false });

    const privateParts = (JSON.parse(good) as JSONWebKeySet).keys.map((key) => String(key.d));
    for (const d of privateParts) expect(gateway.logs()).not.toContain(d);
  }, 60_000);
});

describe('SIGHUP', () => {
  let gateway: GatewayProcess;
  let real: string;
  beforeAll(async () => {
    // JWT_KEYS is a link into another directory, which the gateway does not watch: only SIGHUP reloads it.
    const elsewhere = await mkdtemp(join(dir, 'secrets-'));
    real = join(elsewhere, 'jwt-keys.json');
    await keys(real);
    const link = join(dir, 'linked-keys.json');
    await symlink(real, link);
    gateway = await startGateway({ env: { JWT_KEYS: link } });
  });
  afterAll(() => gateway?.stop());

  it('reloads the keys: a staged key is published after `kill -HUP`, and the old token still passes', async () => {
    const [kidA] = await kidsIn(real);
    const token = await signIn(gateway);
    await keys(real, 'stage');
    const kidB = (await kidsIn(real))[1]!;

    gateway.signal('SIGHUP');
    expect(await nthLine(gateway, 'keys_reloaded', 1)).toMatchObject({ trigger: 'SIGHUP', kids: [kidA, kidB], changed: true });
    expect(await publishedKids(gateway)).toEqual([kidA, kidB]);
    expect(await auth(gateway, token)).toBe(200);

    // Nothing changed since: a SIGHUP still gets its answer.
    gateway.signal('SIGHUP');
    expect(await nthLine(gateway, 'keys_reloaded', 2)).toMatchObject({ trigger: 'SIGHUP', changed: false });
  });
});
