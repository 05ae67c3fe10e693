/**
 * Writes the JWKS file of private signing keys that JWT_KEYS names.
 *
 *   npm run keys -- [--alg ES256|EdDSA|RS256] [--out FILE] [--rotate | --stage | --promote | --retire]
 *
 * Without an option it refuses to touch an existing file. The first key signs; the others are
 * published for verification, so tokens signed before a rotation still verify until they expire.
 *
 * --rotate   the new key goes first and signs at once (one instance, or a restart of all at once).
 * --stage    the new key goes second: published, not yet signing. Roll it out to every instance…
 * --promote  …then swap the first two keys, so the staged key signs; roll that out too.
 *            With several instances, stage-then-promote means no instance ever meets a token
 *            signed by a key it does not know, even during a rolling restart.
 * --retire   drop the last key (the oldest, once its tokens have expired); never the signing key.
 * At most three keys are kept; the oldest is dropped. portero reloads the file when it changes (or
 * on SIGHUP), so none of these needs a restart; README "Rotating the signing key" is the runbook.
 */
import { chmod, link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { JWK } from 'jose';
import { readEnv } from '../config/env.js';
import { isPorteroAlgorithm, PORTERO_ALGORITHMS, type PorteroAlgorithm } from '../shared/algorithms.js';
import { generateKeyJwk, loadKeyFile } from '../tokens/keys.js';

const MAX_KEYS = 3;
const USAGE = `usage: npm run keys -- [--alg ${PORTERO_ALGORITHMS.join('|')}] [--out FILE] [--rotate | --stage | --promote | --retire]`;

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

/**
 * The keys in their new order: `key` (none for --promote) first (--rotate, or a new file), or
 * second (--stage); --promote swaps the first two.
 */
function orderKeys(existing: readonly JWK[], key: JWK | undefined, stage: boolean): JWK[] {
  const [first, second, ...rest] = existing;
  if (!key) return first && second ? [second, first, ...rest] : [...existing];
  if (first && stage) return [first, key, ...(second ? [second] : []), ...rest];
  return [key, ...existing];
}

function options() {
  try {
    return parseArgs({
      options: {
        alg: { type: 'string' },
        out: { type: 'string' },
        rotate: { type: 'boolean' },
        stage: { type: 'boolean' },
        promote: { type: 'boolean' },
        retire: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
}

type Options = ReturnType<typeof options>;

/** What to write: the keys kept, in order, the new key if any, and what falls off the end. */
async function plan(values: Options, out: string, alg: PorteroAlgorithm) {
  const modes = [values.rotate, values.stage, values.promote, values.retire].filter(Boolean).length;
  if (modes > 1) fail(`use one of --rotate, --stage, --promote, --retire\n${USAGE}`);
  const existing = await readExisting(out);
  if (existing && modes === 0) fail(`${out} exists; use --rotate or --stage to add a new signing key to it, or --out another file`);
  if (values.promote && (existing?.length ?? 0) < 2) fail(`${out} has no staged key to promote; run --stage first`);
  if (values.retire && (existing?.length ?? 0) < 2) fail(`${out} holds no key but the signing one; --retire never drops that`);
  if (values.retire) return { existing, key: undefined, kept: existing?.slice(0, -1) ?? [], dropped: existing?.slice(-1) ?? [] };

  // The new key list: generated key (if any) placed per mode, at most MAX_KEYS, oldest dropped.
  const key = values.promote ? undefined : await generateKeyJwk(alg);
  const ordered = orderKeys(existing ?? [], key, values.stage === true);
  return { existing, key, kept: ordered.slice(0, MAX_KEYS), dropped: ordered.slice(MAX_KEYS) };
}

/**
 * Writes a private temporary file beside the target, checks it loads as portero will load it,
 * then moves it into place: a failed run never leaves a half-written or unloadable key file, and
 * a portero watching the file reads it once, whole.
 */
async function write(out: string, kept: readonly JWK[], signingAlg: PorteroAlgorithm, replace: boolean): Promise<void> {
  const temporary = `${out}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ keys: kept }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await chmod(temporary, 0o600); // the mode given above is only a request, narrowed by umask
    await loadKeyFile(temporary, signingAlg);
    if (replace) await rename(temporary, out);
    else await link(temporary, out); // fails rather than overwrite a file created meanwhile
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const values = options();
  if (values.help) {
    console.error(USAGE);
    return;
  }
  // JWT_ALG as portero itself reads it: the environment over .env (or ENV_FILE).
  const alg = (values.alg ?? (readEnv().JWT_ALG?.trim() || 'ES256')) as PorteroAlgorithm;
  if (!isPorteroAlgorithm(alg)) fail(`unknown algorithm ${JSON.stringify(alg)}; use one of ${PORTERO_ALGORITHMS.join(', ')}\n${USAGE}`);
  const out = resolve(values.out ?? 'jwt-keys.json');
  const { existing, key, kept, dropped } = await plan(values, out, alg);
  const [signing] = kept;
  if (!signing) fail('no key to write');
  const signingAlg = (signing.alg ?? alg) as PorteroAlgorithm;
  await write(out, kept, signingAlg, existing !== undefined);

  const done = values.promote
    ? 'promoted the staged key in'
    : values.stage
      ? 'staged a new key in'
      : values.retire
        ? 'retired the oldest key in'
        : existing
          ? 'rotated'
          : 'created';
  console.error(`keys: ${done} ${out} (mode 0600)`);
  if (key) console.error(`keys: new key kid ${key.kid}, alg ${alg}${values.stage ? ' (published, not signing yet)' : ''}`);
  console.error(`keys: signing key kid ${signing.kid}, alg ${signingAlg}`);
  for (const old of kept.slice(1)) console.error(`keys: published for verification: kid ${old.kid ?? '(none)'}, alg ${old.alg ?? '?'}`);
  for (const old of dropped) console.error(`keys: ${values.retire ? 'retired' : 'dropped (oldest)'}: kid ${old.kid ?? '(none)'}`);
  if (signingAlg !== 'ES256') console.error(`keys: set JWT_ALG=${signingAlg} for portero: the signing key's alg must match it`);
  if (existing)
    console.error("keys: portero reloads this file when it changes (or on SIGHUP): look for keys_reloaded in each instance's log");
  if (values.stage) console.error("keys: once every instance publishes it and the key set's caches have aged (5 minutes), run --promote");
}

await main().catch((err: Error) => fail(err.message));
