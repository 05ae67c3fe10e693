/**
 * Writes the JWKS file of private signing keys that JWT_KEYS names.
 *
 *   npm run keys -- [--alg ES256|EdDSA|RS256] [--out FILE]
 *                   [--rotate | --stage | --promote | --retire | --add-rsa | --promote-rsa | --retire-rsa [--no-apps]]
 *
 * Without an option it refuses to touch an existing file. What a key does follows from its place:
 * the first signs portero's own tokens; the first RS256 key signs the tokens of portero's OpenID
 * Provider for its apps (APP_*), which is the first key itself when JWT_ALG is RS256; every key is
 * published, so tokens signed before a rotation still verify until they expire.
 *
 * --rotate   the new key goes first and signs at once (one instance, or a restart of all at once).
 * --stage    the new key goes second: published, not yet signing. Roll it out to every instance…
 * --promote  …then swap the first two keys, so the staged key signs; roll that out too.
 *            With several instances, stage-then-promote means no instance ever meets a token
 *            signed by a key it does not know, even during a rolling restart.
 * --retire   drop the last key (the oldest, once its tokens have expired); never the signing key,
 *            nor an RSA key kept for the apps.
 *
 * The RSA keys kept for the apps are the RS256 keys of a file whose signing key is not RS256 (with
 * JWT_ALG=RS256 the signing key signs the apps' tokens too, and these three options are refused).
 * They have a stage-then-promote of their own, as apps cache the JWKS as backends do:
 * --add-rsa      an RS256 key beside the signing key (creating the file, with a signing key, if
 *                there is none). The file's first RS256 key signs the apps' tokens from the next
 *                reload; beside one that does already, it goes right after it: published only…
 * --promote-rsa  …then swap the first two RSA keys for the apps, so the staged one signs theirs.
 * --retire-rsa   drop the last RSA key for the apps (the oldest), never the one that signs theirs
 *                while another stays. The only RS256 key is dropped only with --no-apps: portero
 *                refuses to start (and to reload the file) with APP_* set and no RS256 key, and
 *                this tool cannot see the configuration; --no-apps says none is set.
 *
 * --stage with --alg RS256 is refused while the file holds an RSA key for the apps: second, it
 * would be the first RS256 key, and sign the apps' tokens before every instance publishes it. And
 * --promote of an RSA key for the apps (to sign portero's own tokens with it) needs --alg RS256.
 *
 * At most three of portero's own keys are kept, and three RSA keys for the apps; past that the
 * oldest of the kind is dropped. portero reloads the file when it changes (or on SIGHUP), so none
 * of these needs a restart; README "Rotating the signing key" is the runbook.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { JWK } from 'jose';
import { readEnv } from '../config/env.js';
import { isPorteroAlgorithm, PORTERO_ALGORITHMS, type PorteroAlgorithm } from '../shared/algorithms.js';
import { readExisting, write } from './keys/file.js';
import { type KeyFile, fail, isRsa, type Plan } from './keys/plan.js';
import { addRsa, promoteRsa, retireRsa } from './keys/rsa.js';
import { addSigningKey, promote, retire } from './keys/signing.js';

const MODES = ['rotate', 'stage', 'promote', 'retire', 'add-rsa', 'promote-rsa', 'retire-rsa'] as const;
type Mode = (typeof MODES)[number];
const USAGE = `usage: npm run keys -- [--alg ${PORTERO_ALGORITHMS.join('|')}] [--out FILE] [${MODES.map((mode) => `--${mode}`).join(' | ')} [--no-apps]]`;

function options() {
  try {
    return parseArgs({
      options: {
        alg: { type: 'string' },
        out: { type: 'string' },
        ...Object.fromEntries(MODES.map((mode) => [mode, { type: 'boolean' as const }])),
        'no-apps': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values as { alg?: string; out?: string; 'no-apps'?: boolean; help?: boolean } & Partial<Record<Mode, boolean>>;
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
}

type Options = ReturnType<typeof options>;

/** The one mode asked for, checked against the file. */
function modeOf(values: Options, existing: JWK[] | undefined, out: string): Mode | undefined {
  const modes = MODES.filter((mode) => values[mode] === true);
  if (modes.length > 1) fail(`use one of ${MODES.map((mode) => `--${mode}`).join(', ')}\n${USAGE}`);
  const [mode] = modes;
  if (values['no-apps'] && mode !== 'retire-rsa') fail(`--no-apps goes with --retire-rsa only\n${USAGE}`);
  if (existing && !mode) {
    fail(`${out} exists; use --rotate or --stage to add a new signing key to it, --add-rsa an RSA key for the apps, or --out another file`);
  }
  return mode;
}

async function plan(values: Options, file: KeyFile): Promise<{ mode: Mode | undefined } & Plan> {
  const mode = modeOf(values, file.existing, file.out);
  const planned = await (async () => {
    switch (mode) {
      case 'promote':
        return promote(file);
      case 'retire':
        return retire(file);
      case 'add-rsa':
        return addRsa(file);
      case 'promote-rsa':
        return promoteRsa(file);
      case 'retire-rsa':
        return retireRsa(file, values['no-apps'] === true);
      default:
        return addSigningKey(file, mode === 'stage');
    }
  })();
  return { mode, ...planned };
}

const DONE: Record<Mode, string> = {
  rotate: 'rotated',
  stage: 'staged a new key in',
  promote: 'promoted the staged key in',
  retire: 'retired the oldest key in',
  'add-rsa': 'added an RSA key for the apps to',
  'promote-rsa': 'promoted the staged RSA key for the apps in',
  'retire-rsa': 'retired the oldest RSA key for the apps in',
};

/** What each key of the new file does, what was made and dropped, and what to do next. */
function report(mode: Mode | undefined, file: KeyFile, { kept, added, dropped }: Plan): void {
  const [signing] = kept;
  const signingAlg = (signing?.alg ?? file.alg) as PorteroAlgorithm;
  const appsKey = kept.find((key) => isRsa(key, file.alg));
  const note = (key: JWK) => {
    if (mode === 'stage' && key === appsKey)
      return " (published, not signing portero's tokens yet; the first RS256 key, it signs the apps')";
    if (mode === 'stage' && key !== signing) return ' (published, not signing yet)';
    if (mode !== 'add-rsa' || !isRsa(key, file.alg)) return '';
    return key === appsKey ? " (signs the apps' tokens)" : " (published, not signing the apps' tokens yet)";
  };
  console.error(`keys: ${file.existing && mode ? DONE[mode] : 'created'} ${file.out} (mode 0600)`);
  for (const key of added) console.error(`keys: new key kid ${key.kid}, alg ${key.alg}${note(key)}`);
  console.error(`keys: signing key kid ${signing?.kid}, alg ${signingAlg}${appsKey === signing ? " (the apps' tokens too)" : ''}`);
  for (const key of kept.slice(1)) {
    if (key === appsKey) console.error(`keys: signs the apps' tokens (portero's OpenID Provider): kid ${key.kid}, alg RS256`);
    else console.error(`keys: published for verification: kid ${key.kid ?? '(none)'}, alg ${key.alg ?? '?'}`);
  }
  const retired = mode === 'retire' || mode === 'retire-rsa';
  for (const old of dropped) console.error(`keys: ${retired ? 'retired' : 'dropped (oldest)'}: kid ${old.kid ?? '(none)'}`);
  if (signingAlg !== 'ES256') console.error(`keys: set JWT_ALG=${signingAlg} for portero: the signing key's alg must match it`);
  if (!appsKey && file.existing?.some((key) => isRsa(key, file.alg)))
    console.error('keys: no RS256 key left: portero refuses to start, or to reload this file, while APP_* is set');
  if (file.existing)
    console.error("keys: portero reloads this file when it changes (or on SIGHUP): look for keys_reloaded in each instance's log");
  if (mode === 'stage')
    console.error("keys: once every instance publishes it and the key set's caches have aged (5 minutes), run --promote");
  if (added.some((key) => note(key).includes('not signing the apps')))
    console.error(
      "keys: once every instance publishes it and the key set's caches (your apps' too) have aged (5 minutes), run --promote-rsa",
    );
  if (mode === 'promote-rsa') console.error("keys: once the apps' tokens of the old RSA key have expired, run --retire-rsa");
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
  const file: KeyFile = { out, existing: await readExisting(out), alg };
  const { mode, ...planned } = await plan(values, file);
  const [signing] = planned.kept;
  if (!signing) fail('no key to write');
  await write(out, planned.kept, (signing.alg ?? alg) as PorteroAlgorithm, file.existing !== undefined);
  report(mode, file, planned);
}

await main().catch((err: Error) => fail(err.message));
