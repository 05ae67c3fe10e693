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
