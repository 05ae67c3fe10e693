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
import { chmod, link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { JWK } from 'jose';
import { readEnv } from '../config/env.js';
import { isPorteroAlgorithm, PORTERO_ALGORITHMS, type PorteroAlgorithm } from '../shared/algorithms.js';
import { generateKeyJwk, loadKeyFile } from '../tokens/keys.js';

const MAX_KEYS = 3;
const MODES = ['rotate', 'stage', 'promote', 'retire', 'add-rsa', 'promote-rsa', 'retire-rsa'] as const;
type Mode = (typeof MODES)[number];
const USAGE = `usage: npm run keys -- [--alg ${PORTERO_ALGORITHMS.join('|')}] [--out FILE] [${MODES.map((mode) => `--${mode}`).join(' | ')} [--no-apps]]`;

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

/** What the file looks like, and with which algorithm a key without `alg` is read (JWT_ALG, as portero reads it). */
interface File {
  readonly out: string;
  readonly existing: JWK[] | undefined;
  readonly alg: PorteroAlgorithm;
}

/** What to write: the keys kept, in order, the keys made, and those dropped. */
interface Plan {
  readonly kept: JWK[];
  readonly added: JWK[];
  readonly dropped: JWK[];
}

const isRsa = (key: JWK | undefined, alg: PorteroAlgorithm) => key !== undefined && (key.alg ?? alg) === 'RS256';

/** The RSA keys kept for the apps, in file order: the RS256 keys, when the signing key is not one. */
function appsKeys(keys: readonly JWK[], alg: PorteroAlgorithm): JWK[] {
  return isRsa(keys[0], alg) ? [] : keys.filter((key) => isRsa(key, alg));
}

/** `keys` with at most MAX_KEYS of those `ofKind` picks, the last (oldest) of them dropped. */
function capped(keys: readonly JWK[], ofKind: (keys: readonly JWK[]) => JWK[]): { kept: JWK[]; dropped: JWK[] } {
  const dropped = ofKind(keys).slice(MAX_KEYS);
  return { kept: keys.filter((key) => !dropped.includes(key)), dropped };
}

/** --rotate and --stage: a new key of `alg` first (--rotate, or a new file) or second (--stage). */
async function addSigningKey({ out, existing = [], alg }: File, stage: boolean): Promise<Plan> {
  const [first, ...rest] = existing;
  const apps = appsKeys(existing, alg);
  if (stage && alg === 'RS256' && apps.length > 0) {
    fail(
      `${out} holds an RSA key for the apps (kid ${apps[0]?.kid}): a new RS256 key second would sign the apps' tokens at once, ` +
        'before every instance publishes it. Stage an RSA key for the apps with --add-rsa; switch portero to RS256 with --rotate',
    );
  }
  const key = await generateKeyJwk(alg);
  const ordered = first && stage ? [first, key, ...rest] : [key, ...existing];
  // The RSA keys kept for the apps are not portero's own: never dropped for a new signing key.
  const { kept, dropped } = capped(ordered, (keys) => {
    const forApps = appsKeys(keys, alg);
    return keys.filter((entry) => !forApps.includes(entry));
  });
  return { kept, added: [key], dropped };
}

/** --promote: the first two keys swap; an RSA key for the apps signs portero's tokens only with --alg RS256. */
function promote({ out, existing = [], alg }: File): Plan {
  const [first, second, ...rest] = existing;
  if (!first || !second) fail(`${out} has no staged key to promote; run --stage first`);
  if (appsKeys(existing, alg).includes(second) && alg !== 'RS256') {
    fail(
      `${out}: the second key, kid ${second.kid}, is an RSA key for the apps, not a staged signing key; run --stage first ` +
        "(or, to sign portero's own tokens with it, --promote --alg RS256, and set JWT_ALG=RS256)",
    );
  }
  return { kept: [second, first, ...rest], added: [], dropped: [] };
}

/** --retire: the last of portero's own keys (not an RSA key for the apps), never the signing key. */
function retire({ out, existing = [], alg }: File): Plan {
  const apps = appsKeys(existing, alg);
  const own = existing.filter((key) => !apps.includes(key));
  const last = own.length > 1 ? own.at(-1) : undefined;
  if (!last) {
    const rsa = apps.length > 0 ? ' (nor an RSA key for the apps: that is --retire-rsa)' : '';
    fail(`${out} holds no key but the signing one; --retire never drops that${rsa}`);
  }
  return { kept: existing.filter((key) => key !== last), added: [], dropped: [last] };
}

/** The file's signing key must not be RS256 for the --*-rsa options: it signs the apps' tokens itself then. */
function refuseRsaSigner({ out, existing = [], alg }: File, option: string): void {
  const [first] = existing;
  if (isRsa(first, alg)) {
    fail(
      `${out}: the signing key, kid ${first?.kid}, is RS256 and signs the apps' tokens too; ${option} is for a file whose ` +
        'signing key is ES256 or EdDSA. Rotate it with --stage, --promote and --retire',
    );
  }
}

/** --add-rsa: an RS256 key last (the first for the apps: it signs theirs), or right after the one that signs theirs (staged). */
async function addRsa(file: File): Promise<Plan> {
  const { existing, alg } = file;
  if (!existing && alg === 'RS256') fail(`JWT_ALG is RS256: the signing key signs the apps' tokens too; run without --add-rsa`);
  refuseRsaSigner(file, '--add-rsa');
  const signing = existing ? [] : [await generateKeyJwk(alg)];
  const keys = existing ?? signing;
  const key = await generateKeyJwk('RS256');
  const [current] = appsKeys(keys, alg);
  const at = current ? keys.indexOf(current) + 1 : keys.length;
  const ordered = [...keys.slice(0, at), key, ...keys.slice(at)];
  const { kept, dropped } = capped(ordered, (entries) => appsKeys(entries, alg));
  return { kept, added: [...signing, key], dropped };
}

/** --promote-rsa: the first two RSA keys for the apps swap places. */
function promoteRsa(file: File): Plan {
  refuseRsaSigner(file, '--promote-rsa');
  const { out, existing = [], alg } = file;
  const [current, staged] = appsKeys(existing, alg);
  if (!current || !staged) fail(`${out} has no staged RSA key for the apps to promote; run --add-rsa first`);
  const kept = existing.map((key) => (key === current ? staged : key === staged ? current : key));
  return { kept, added: [], dropped: [] };
}

/** --retire-rsa: the last RSA key for the apps; the only one with --no-apps alone. */
function retireRsa(file: File, noApps: boolean): Plan {
  refuseRsaSigner(file, '--retire-rsa');
  const { out, existing = [], alg } = file;
  const apps = appsKeys(existing, alg);
  const last = apps.at(-1);
  if (!last) fail(`${out} holds no RSA key for the apps; --add-rsa adds one`);
  if (apps.length === 1 && !noApps) {
    fail(
      `${out}: kid ${last.kid} is its only RS256 key, which portero's OpenID Provider signs the apps' tokens with; portero ` +
        'refuses to start, or to reload this file, with APP_* set and no RS256 key. Once no APP_* is set, drop it with --retire-rsa --no-apps',
    );
  }
  return { kept: existing.filter((key) => key !== last), added: [], dropped: [last] };
}

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

async function plan(values: Options, file: File): Promise<{ mode: Mode | undefined } & Plan> {
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
function report(mode: Mode | undefined, file: File, { kept, added, dropped }: Plan): void {
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
  const file: File = { out, existing: await readExisting(out), alg };
  const { mode, ...planned } = await plan(values, file);
  const [signing] = planned.kept;
  if (!signing) fail('no key to write');
  await write(out, planned.kept, (signing.alg ?? alg) as PorteroAlgorithm, file.existing !== undefined);
  report(mode, file, planned);
}

await main().catch((err: Error) => fail(err.message));
