import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { KeyRing } from '../../src/tokens/key-ring.js';
import { KeyFileReloader } from '../../src/tokens/key-reload.js';
import { generateKeyJwk, loadKeyFile } from '../../src/tokens/keys.js';
import { LogCapture } from '../support/app.js';

// JWT_KEYS read again while portero serves (src/main.ts wires SIGHUP and the watch to this), on
// real files: what replaces the keys in use, what is refused, and what the log says.

let dir: string;
let path: string;
let logs: LogCapture;
let reloader: KeyFileReloader | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portero-reload-'));
  path = join(dir, 'jwt-keys.json');
  logs = new LogCapture();
});
afterEach(async () => {
  reloader?.close();
  await rm(dir, { recursive: true, force: true });
});

const keyFile = async (...algs: ('ES256' | 'EdDSA' | 'RS256')[]) =>
  JSON.stringify({ keys: await Promise.all(algs.map((alg) => generateKeyJwk(alg))) });

async function started(text: string, forApps = false) {
  await writeFile(path, text);
  const ring = new KeyRing(await loadKeyFile(path, 'ES256', { forApps }));
  reloader = new KeyFileReloader({ path, alg: 'ES256', forApps, ring, logger: createLogger('debug', logs), debounceMs: 20 });
  return ring;
}

const lines = (event: string) => logs.lines.filter((line) => line.event === event);

describe('reloading JWT_KEYS', () => {
  it('refuses a file whose signing key is not of JWT_ALG, as start-up would, and keeps the keys in use', async () => {
    const ring = await started(await keyFile('ES256'));
    const before = ring.current;
    await writeFile(path, await keyFile('EdDSA'));
    await reloader!.reload('SIGHUP');
    expect(ring.current).toBe(before);
    expect(lines('keys_reload_refused')).toEqual([
      expect.objectContaining({ level: 'warn', trigger: 'SIGHUP', path, reason: expect.stringContaining('but JWT_ALG is ES256') }),
    ]);
  });

  it("refuses a file without an RS256 key while apps are configured, as start-up would, and the apps' key stays", async () => {
    const ring = await started(await keyFile('ES256', 'RS256'), true);
    const before = ring.current;
    await writeFile(path, await keyFile('ES256'));
    await reloader!.reload('SIGHUP');
    expect(ring.current).toBe(before);
    expect(ring.current.rsaKid).toBeDefined();
    expect(lines('keys_reload_refused')).toEqual([
      expect.objectContaining({ level: 'warn', trigger: 'SIGHUP', reason: expect.stringContaining('holds no RS256 key') }),
    ]);
    // A file with one is taken, and the log names the key the apps' tokens are signed with.
    await writeFile(path, await keyFile('ES256', 'RS256'));
    await reloader!.reload('SIGHUP');
    expect(ring.current).not.toBe(before);
    expect(lines('keys_reloaded')).toEqual([expect.objectContaining({ changed: true, rsa_kid: ring.current.rsaKid })]);
  });

  it('takes a file replaced by a rename in its directory, as `npm run keys` and editors write it', async () => {
    const ring = await started(await keyFile('ES256'));
    const before = ring.current;
    reloader!.watch();
    const next = join(dir, 'jwt-keys.json.tmp');
    await writeFile(next, await keyFile('ES256', 'ES256'));
    await rename(next, path);
    await expect.poll(() => lines('keys_reloaded').length, { timeout: 5000 }).toBe(1);
    expect(ring.current).not.toBe(before);
    expect(ring.current.publicJwks.keys).toHaveLength(2);
    expect(lines('keys_reloaded')[0]).toMatchObject({
      level: 'info',
      trigger: 'file_changed',
      changed: true,
      removed: [before.signing.kid],
    });
  });

  it('answers a SIGHUP that finds the same keys, and leaves them as they are', async () => {
    const ring = await started(await keyFile('ES256'));
    const before = ring.current;
    await reloader!.reload('SIGHUP');
    expect(ring.current).toBe(before);
    expect(lines('keys_reloaded')).toEqual([
      expect.objectContaining({ level: 'info', trigger: 'SIGHUP', changed: false, kids: [before.signing.kid] }),
    ]);
  });
});
