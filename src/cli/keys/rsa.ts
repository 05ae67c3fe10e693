import { generateKeyJwk } from '../../tokens/keys.js';
import { appsKeys, capped, type KeyFile, fail, isRsa, type Plan } from './plan.js';

/** The file's signing key must not be RS256 for the --*-rsa options: it signs the apps' tokens itself then. */
function refuseRsaSigner({ out, existing = [], alg }: KeyFile, option: string): void {
  const [first] = existing;
  if (isRsa(first, alg)) {
    fail(
      `${out}: the signing key, kid ${first?.kid}, is RS256 and signs the apps' tokens too; ${option} is for a file whose ` +
        'signing key is ES256 or EdDSA. Rotate it with --stage, --promote and --retire',
    );
  }
}

/** --add-rsa: an RS256 key last (the first for the apps: it signs theirs), or right after the one that signs theirs (staged). */
export async function addRsa(file: KeyFile): Promise<Plan> {
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
export function promoteRsa(file: KeyFile): Plan {
  refuseRsaSigner(file, '--promote-rsa');
  const { out, existing = [], alg } = file;
  const [current, staged] = appsKeys(existing, alg);
  if (!current || !staged) fail(`${out} has no staged RSA key for the apps to promote; run --add-rsa first`);
  const kept = existing.map((key) => (key === current ? staged : key === staged ? current : key));
  return { kept, added: [], dropped: [] };
}

/** --retire-rsa: the last RSA key for the apps; the only one with --no-apps alone. */
export function retireRsa(file: KeyFile, noApps: boolean): Plan {
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
