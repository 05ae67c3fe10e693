/**
 * Writes the JWKS file of private signing keys that JWT_KEYS names.
 *
 *   npm run keys -- [--alg ES256|EdDSA|RS256] [--out FILE] [--rotate]
 *
 * Without --rotate it refuses to touch an existing file. With --rotate the new key goes first (it
 * signs) and up to two earlier keys follow it, so tokens signed before the rotation still verify
 * until they expire. Restart every instance soon after a rotation: one still running on the old
 * file cannot verify tokens signed with the new key.
 */
import { chmod, link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { JWK } from 'jose';
import { readEnv } from '../src/config/env.js';
import { JWT_ALGS, type JwtAlg } from '../src/config/types.js';
import { generateKeyJwk, loadKeyFile } from '../src/tokens/keys.js';

const MAX_KEYS = 3;
const USAGE = `usage: npm run keys -- [--alg ${JWT_ALGS.join('|')}] [--out FILE] [--rotate]`;

function fail(message: string): never {
  console.error(`keys: ${message}`);
  process.exit(1);
}

async function readExisting(path: string): Promise<JWK[] | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let keys: unknown;
  try {
    keys = (JSON.parse(text) as { keys?: unknown } | null)?.keys;
  } catch (err) {
    fail(`${path} is not JSON (${(err as Error).message}); not rotating it`);
  }
  if (!Array.isArray(keys)) fail(`${path} is not a JWKS ({"keys": [...]}); not rotating it`);
  return keys as JWK[];
}

function options() {
  try {
    return parseArgs({
      options: { alg: { type: 'string' }, out: { type: 'string' }, rotate: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
}

async function main(): Promise<void> {
  const values = options();
  if (values.help) {
    console.error(USAGE);
    return;
  }
  // JWT_ALG as portero itself reads it: the environment over .env (or ENV_FILE).
  const alg = (values.alg ?? (readEnv().JWT_ALG?.trim() || 'ES256')) as JwtAlg;
  if (!JWT_ALGS.includes(alg)) fail(`unknown algorithm ${JSON.stringify(alg)}; use one of ${JWT_ALGS.join(', ')}\n${USAGE}`);
  const out = resolve(values.out ?? 'jwt-keys.json');

  const existing = await readExisting(out);
  if (existing && !values.rotate) fail(`${out} exists; use --rotate to add a new signing key to it, or --out another file`);

  const key = await generateKeyJwk(alg);
  const kept = (existing ?? []).slice(0, MAX_KEYS - 1);
  const dropped = (existing ?? []).slice(MAX_KEYS - 1);

  // Write a private temporary file beside the target, check it loads as portero will load it,
  // then move it into place: a failed run never leaves a half-written or unloadable key file.
  const temporary = `${out}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ keys: [key, ...kept] }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await chmod(temporary, 0o600); // the mode given above is only a request, narrowed by umask
    await loadKeyFile(temporary, alg);
    if (existing) await rename(temporary, out);
    else await link(temporary, out); // fails rather than overwrite a file created meanwhile
  } finally {
    await unlink(temporary).catch(() => undefined);
  }

  console.error(`keys: ${existing ? 'rotated' : 'created'} ${out} (mode 0600)`);
  console.error(`keys: signing key kid ${key.kid}, alg ${alg}`);
  for (const old of kept) console.error(`keys: kept for verification: kid ${old.kid ?? '(none)'}, alg ${old.alg ?? '?'}`);
  for (const old of dropped) console.error(`keys: dropped (oldest): kid ${old.kid ?? '(none)'}`);
  if (alg !== 'ES256') console.error(`keys: set JWT_ALG=${alg} for portero: the signing key's alg must match it`);
  if (existing) console.error('keys: restart every portero instance to sign with the new key');
}

await main().catch((err: Error) => fail(err.message));
