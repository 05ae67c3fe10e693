import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkKeys } from '../../src/cli/check-config/checks.js';
import { generateKeyJwk } from '../../src/tokens/keys.js';

// check-config's JWT_KEYS check once apps are configured (APP_*): it loads the file as start-up
// does, so a file without an RS256 key for portero's OpenID Provider fails here first.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portero-check-keys-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function keyFile(name: string, ...algs: ('ES256' | 'RS256')[]) {
  const keys = await Promise.all(algs.map((alg) => generateKeyJwk(alg)));
  const path = join(dir, name);
  await writeFile(path, JSON.stringify({ keys }), { mode: 0o600 });
  return { path, kids: keys.map((key) => key.kid) };
}

const tokens = (keysFile?: string) => ({
  alg: 'ES256' as const,
  issuer: 'https://auth.example.com',
  ttl: 3600,
  clockSkew: 30,
  revocationGrace: 0,
  ...(keysFile ? { keysFile } : {}),
});

describe("check-config's JWT_KEYS check with apps configured", () => {
  it('fails a file without an RS256 key, naming `npm run keys -- --add-rsa`; passes it without apps', async () => {
    const { path } = await keyFile('es.json', 'ES256');
    const withApps = await checkKeys(tokens(path), 'production', true);
    expect(withApps).toMatchObject({ status: 'FAIL', what: `JWT_KEYS ${path}` });
    expect(withApps.detail).toContain('holds no RS256 key');
    expect(withApps.detail).toContain('npm run keys -- --out <file> --add-rsa');
    expect((await checkKeys(tokens(path), 'production', false)).status).toBe('ok');
  });

  it("names the key the apps' tokens are signed with", async () => {
    const { path, kids } = await keyFile('es-rs.json', 'ES256', 'RS256');
    expect(await checkKeys(tokens(path), 'production', true)).toEqual({
      status: 'ok',
      what: `JWT_KEYS ${path}`,
      detail: `2 keys: signs with kid ${kids[0]} (ES256); the apps' tokens with kid ${kids[1]} (RS256); also published: ${kids[1]}`,
    });
  });

  it('says development mode makes an ephemeral RS256 key for the apps without JWT_KEYS', async () => {
    expect((await checkKeys(tokens(), 'development', true)).detail).toBe(
      "unset: development mode signs with an ephemeral key (and the apps' tokens with an ephemeral RS256 key), and tokens stop verifying on restart",
    );
  });
});
