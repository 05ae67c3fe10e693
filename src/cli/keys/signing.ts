import { generateKeyJwk } from '../../tokens/keys.js';
import { appsKeys, capped, type KeyFile, fail, type Plan } from './plan.js';

/** --rotate and --stage: a new key of `alg` first (--rotate, or a new file) or second (--stage). */
export async function addSigningKey({ out, existing = [], alg }: KeyFile, stage: boolean): Promise<Plan> {
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
export function promote({ out, existing = [], alg }: KeyFile): Plan {
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
export function retire({ out, existing = [], alg }: KeyFile): Plan {
  const apps = appsKeys(existing, alg);
  const own = existing.filter((key) => !apps.includes(key));
  const last = own.length > 1 ? own.at(-1) : undefined;
  if (!last) {
    const rsa = apps.length > 0 ? ' (nor an RSA key for the apps: that is --retire-rsa)' : '';
    fail(`${out} holds no key but the signing one; --retire never drops that${rsa}`);
  }
  return { kept: existing.filter((key) => key !== last), added: [], dropped: [last] };
}
