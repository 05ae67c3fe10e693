import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { JSONWebKeySet } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadKeyFile } from '../../src/tokens/keys.js';

const ROOT = resolve(import.meta.dirname, '../..');
// What `npm run keys` runs once it has built dist/ (test/global-setup.ts builds it for the run).
const SCRIPT = join(ROOT, 'dist/cli/keys.js');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portero-keys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `node dist/cli/keys.js ...args` as its own process in the temporary directory. */
async function keys(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const { JWT_ALG: _alg, ENV_FILE: _file, ...inherited } = process.env;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [SCRIPT, ...args], { cwd: dir, env: { ...inherited, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

const readKeys = async (path: string) => (JSON.parse(await readFile(path, 'utf8')) as JSONWebKeySet).keys;

describe('npm run keys', () => {
  it('creates jwt-keys.json with mode 0600 that portero loads, and prints no private key', async () => {
    const { code, stdout, stderr } = await keys([]);
    expect(code).toBe(0);
    const path = join(dir, 'jwt-keys.json');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const set = await loadKeyFile(path, 'ES256');
    expect(set.signing.alg).toBe('ES256');
    expect(stderr).toContain(set.signing.kid);
    expect(stderr).toContain(path);
    const [key] = await readKeys(path);
    expect(key?.d).toMatch(/^[\w-]{43}$/);
    expect(stderr).not.toContain(key?.d);
    expect(stdout).not.toContain(key?.d);
  });

  it('refuses to overwrite an existing file without --rotate', async () => {
    await keys([]);
    const before = await readFile(join(dir, 'jwt-keys.json'), 'utf8');
    const { code, stderr } = await keys([]);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/exists; use --rotate/);
    expect(await readFile(join(dir, 'jwt-keys.json'), 'utf8')).toBe(before);
  });

  it('--rotate puts a new signing key first, keeps the old one second, and keeps at most 3', async () => {
    const path = join(dir, 'k.json');
    await keys(['--out', 'k.json']);
    const [first] = await readKeys(path);
    expect((await keys(['--out', 'k.json', '--rotate'])).code).toBe(0);
    const rotated = await readKeys(path);
    expect(rotated.map((key) => key.kid)).toEqual([expect.any(String), first?.kid]);
    expect((await loadKeyFile(path, 'ES256')).publicJwks.keys.map((key) => key.kid)).toEqual(rotated.map((key) => key.kid));
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    await keys(['--out', 'k.json', '--rotate']);
    await keys(['--out', 'k.json', '--rotate']);
    const kids = (await readKeys(path)).map((key) => key.kid);
    expect(kids).toHaveLength(3);
    expect(kids).not.toContain(first?.kid);
    expect(kids[2]).toBe(rotated[0]?.kid);
  });

  it('--alg EdDSA writes an Ed25519 key; JWT_ALG is the default', async () => {
    expect((await keys(['--alg', 'EdDSA', '--out', 'ed.json'])).code).toBe(0);
    expect((await loadKeyFile(join(dir, 'ed.json'), 'EdDSA')).signing.alg).toBe('EdDSA');
    expect((await keys(['--out', 'rs.json'], { JWT_ALG: 'RS256' })).code).toBe(0);
    expect((await loadKeyFile(join(dir, 'rs.json'), 'RS256')).signing.alg).toBe('RS256');
  });

  it('refuses an unknown algorithm with a clear message and writes nothing', async () => {
    const { code, stderr } = await keys(['--alg', 'HS256']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('unknown algorithm "HS256"; use one of ES256, EdDSA, RS256');
    await expect(stat(join(dir, 'jwt-keys.json'))).rejects.toThrow(/ENOENT/);
  });

  it('--stage publishes a new key without signing with it; --promote then makes it sign', async () => {
    const path = join(dir, 'k.json');
    await keys(['--out', 'k.json']);
    const [original] = await readKeys(path);
    const staged = await keys(['--out', 'k.json', '--stage']);
    expect(staged.code).toBe(0);
    const afterStage = await readKeys(path);
    expect(afterStage).toHaveLength(2);
    expect(afterStage[0]?.kid).toBe(original?.kid);
    const stagedKid = afterStage[1]?.kid;
    // Every instance on this file still signs with the original key but already knows the new one.
    expect((await loadKeyFile(path, 'ES256')).signing.kid).toBe(original?.kid);
    expect((await loadKeyFile(path, 'ES256')).publicJwks.keys.map((key) => key.kid)).toContain(stagedKid);
    expect(staged.stderr).toContain('published, not signing yet');

    expect((await keys(['--out', 'k.json', '--promote'])).code).toBe(0);
    expect((await readKeys(path)).map((key) => key.kid)).toEqual([stagedKid, original?.kid]);
    expect((await loadKeyFile(path, 'ES256')).signing.kid).toBe(stagedKid);
  });

  it('--promote without a staged key, or two modes at once, is refused', async () => {
    await keys(['--out', 'k.json']);
    const promote = await keys(['--out', 'k.json', '--promote']);
    expect(promote.code).not.toBe(0);
    expect(promote.stderr).toContain('no staged key to promote; run --stage first');
    const both = await keys(['--out', 'k.json', '--rotate', '--stage']);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain('use one of --rotate, --stage, --promote');
  });

  it('--retire drops the last key, the old one after a promote, and never the signing key', async () => {
    const path = join(dir, 'k.json');
    await keys(['--out', 'k.json']);
    await keys(['--out', 'k.json', '--stage']);
    await keys(['--out', 'k.json', '--promote']);
    const [signing, old] = await readKeys(path);
    const retired = await keys(['--out', 'k.json', '--retire']);
    expect(retired.code, retired.stderr).toBe(0);
    expect(retired.stderr).toContain(`keys: retired: kid ${old?.kid}`);
    expect(retired.stderr).toContain(`keys: signing key kid ${signing?.kid}`);
    expect((await readKeys(path)).map((key) => key.kid)).toEqual([signing?.kid]);
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    const before = await readFile(path, 'utf8');
    const alone = await keys(['--out', 'k.json', '--retire']);
    expect(alone.code).not.toBe(0);
    expect(alone.stderr).toContain('holds no key but the signing one; --retire never drops that');
    expect(await readFile(path, 'utf8')).toBe(before);
  });

  it('--rotate refuses a file that is not a JWKS and leaves it alone', async () => {
    await writeFile(join(dir, 'jwt-keys.json'), '{"not": "keys"}');
    const { code, stderr } = await keys(['--rotate']);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/is not a JWKS/);
    expect(await readFile(join(dir, 'jwt-keys.json'), 'utf8')).toBe('{"not": "keys"}');
  });
});

// The RSA key kept for the apps (portero's OpenID Provider signs their ID tokens with RS256) beside
// an ES256 signing key: what each command does to it, and what it refuses to do.
describe('npm run keys and the RSA key for the apps', () => {
  const path = () => join(dir, 'k.json');
  const kids = async () => (await readKeys(path())).map((key) => key.kid);
  /** What portero makes of the file: which key signs its own tokens, which the apps'. */
  const roles = async () => {
    const set = await loadKeyFile(path(), 'ES256', { forApps: true });
    return { own: set.signing.kid, apps: set.rsaKid };
  };

  it('--add-rsa puts an RS256 key beside the signing key: portero signs with ES256, the apps get RS256', async () => {
    expect((await keys(['--out', 'k.json'])).code).toBe(0);
    const [signing] = await readKeys(path());
    const added = await keys(['--out', 'k.json', '--add-rsa']);
    expect(added.code, added.stderr).toBe(0);
    const [, rsa] = await readKeys(path());
    expect(rsa).toMatchObject({ alg: 'RS256', kty: 'RSA', use: 'sig' });
    expect(await roles()).toEqual({ own: signing?.kid, apps: rsa?.kid });
    expect(added.stderr).toContain(`keys: signs the apps' tokens (portero's OpenID Provider): kid ${rsa?.kid}, alg RS256`);
    expect((await stat(path())).mode & 0o777).toBe(0o600);
    expect(added.stderr).not.toContain(rsa?.d);

    // A new file: the signing key and the RSA key at once.
    expect((await keys(['--out', 'new.json', '--add-rsa'])).code).toBe(0);
    const created = await loadKeyFile(join(dir, 'new.json'), 'ES256', { forApps: true });
    expect(created.publicJwks.keys.map((key) => key.alg)).toEqual(['ES256', 'RS256']);
  });

  it('--stage, --promote, --retire and --rotate of the signing key never move or drop the RSA key for the apps', async () => {
    await keys(['--out', 'k.json', '--add-rsa']);
    const { own: original, apps } = await roles();
    await keys(['--out', 'k.json', '--stage']);
    await keys(['--out', 'k.json', '--promote']);
    const { own: promoted } = await roles();
    expect(promoted).not.toBe(original);
    // The last key of the file is the RSA key: --retire drops the old signing key, not it.
    expect((await kids()).at(-1)).toBe(apps);
    const retired = await keys(['--out', 'k.json', '--retire']);
    expect(retired.code, retired.stderr).toBe(0);
    expect(retired.stderr).toContain(`keys: retired: kid ${original}`);
    expect(await kids()).toEqual([promoted, apps]);
    expect(await roles()).toEqual({ own: promoted, apps });

    // Nothing more of portero's own to retire: refused, the RSA key kept.
    const again = await keys(['--out', 'k.json', '--retire']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('holds no key but the signing one; --retire never drops that (nor an RSA key for the apps');
    // Three of portero's own keys at most; the RSA key is not one of them.
    for (let i = 0; i < 4; i += 1) await keys(['--out', 'k.json', '--rotate']);
    expect(await kids()).toHaveLength(4);
    expect((await roles()).apps).toBe(apps);
  });

  it('--add-rsa beside an RSA key stages it: the apps are signed with the old one until --promote-rsa, then --retire-rsa drops the old', async () => {
    await keys(['--out', 'k.json', '--add-rsa']);
    const { own, apps: old } = await roles();
    const staged = await keys(['--out', 'k.json', '--add-rsa']);
    expect(staged.code, staged.stderr).toBe(0);
    const [, , fresh] = await kids();
    expect(fresh).not.toBe(old);
    expect(staged.stderr).toContain(`keys: new key kid ${fresh}, alg RS256 (published, not signing the apps' tokens yet)`);
    expect(staged.stderr).toContain('run --promote-rsa');
    // Published by every instance that loads the file, but the apps' tokens are still the old key's.
    expect((await loadKeyFile(path(), 'ES256')).publicJwks.keys.map((key) => key.kid)).toContain(fresh);
    expect(await roles()).toEqual({ own, apps: old });

    expect((await keys(['--out', 'k.json', '--promote-rsa'])).code).toBe(0);
    expect(await roles()).toEqual({ own, apps: fresh });
    expect(await kids()).toEqual([own, fresh, old]);

    const retired = await keys(['--out', 'k.json', '--retire-rsa']);
    expect(retired.code, retired.stderr).toBe(0);
    expect(retired.stderr).toContain(`keys: retired: kid ${old}`);
    expect(await kids()).toEqual([own, fresh]);
  });

  it('--retire-rsa refuses to drop the only RS256 key, unless --no-apps says no app needs it', async () => {
    await keys(['--out', 'k.json', '--add-rsa']);
    const before = await readFile(path(), 'utf8');
    const refused = await keys(['--out', 'k.json', '--retire-rsa']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("is its only RS256 key, which portero's OpenID Provider signs the apps' tokens with");
    expect(refused.stderr).toContain('--retire-rsa --no-apps');
    expect(await readFile(path(), 'utf8')).toBe(before);

    const dropped = await keys(['--out', 'k.json', '--retire-rsa', '--no-apps']);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.stderr).toContain('no RS256 key left: portero refuses to start, or to reload this file, while APP_* is set');
    expect((await roles().catch((err: Error) => err.message)) as string).toContain('holds no RS256 key');
    expect((await loadKeyFile(path(), 'ES256')).rsaKid).toBeUndefined();
  });

  it("refuses what would let a key sign the apps' tokens unannounced, or is meaningless, and leaves the file alone", async () => {
    await keys(['--out', 'k.json', '--add-rsa']);
    const before = await readFile(path(), 'utf8');
    // Second, a new RS256 key would be the first RS256 key: it would sign the apps' tokens at once.
    const stage = await keys(['--out', 'k.json', '--stage', '--alg', 'RS256']);
    expect(stage.code).not.toBe(0);
    expect(stage.stderr).toContain("a new RS256 key second would sign the apps' tokens at once");
    // The RSA key is second: --promote would make it portero's signing key, off JWT_ALG.
    const promote = await keys(['--out', 'k.json', '--promote']);
    expect(promote.code).not.toBe(0);
    expect(promote.stderr).toContain('is an RSA key for the apps, not a staged signing key; run --stage first');
    expect(await readFile(path(), 'utf8')).toBe(before);
    const noStaged = await keys(['--out', 'k.json', '--promote-rsa']);
    expect(noStaged.stderr).toContain('no staged RSA key for the apps to promote; run --add-rsa first');
    const stray = await keys(['--out', 'k.json', '--retire', '--no-apps']);
    expect(stray.stderr).toContain('--no-apps goes with --retire-rsa only');
    expect(await readFile(path(), 'utf8')).toBe(before);

    // With an RS256 signing key, it signs the apps' tokens itself.
    await keys(['--out', 'rs.json'], { JWT_ALG: 'RS256' });
    const rsSigned = await keys(['--out', 'rs.json', '--add-rsa'], { JWT_ALG: 'RS256' });
    expect(rsSigned.code).not.toBe(0);
    expect(rsSigned.stderr).toContain("is RS256 and signs the apps' tokens too");
    const set = await loadKeyFile(join(dir, 'rs.json'), 'RS256', { forApps: true });
    expect(set.rsaKid).toBe(set.signing.kid);
  });
});
