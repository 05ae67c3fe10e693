import type { Env } from './env.js';

/**
 * Edits between two names (optimal string alignment: a swap of two neighbours is one edit, so
 * `REDIS_ULR` is one away from `REDIS_URL`).
 */
function distance(a: string, b: string): number {
  const width = b.length + 1;
  // One row after another in a flat array: d[i * width + j] is the distance of a[0, i) to b[0, j).
  const d = new Array<number>((a.length + 1) * width).fill(0);
  const at = (i: number, j: number) => d[i * width + j] ?? 0;
  for (let i = 0; i <= a.length; i++) d[i * width] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * width + j] = best;
    }
  }
  return at(a.length, b.length);
}

/** How far a set name may be from a setting to count as its misspelling: one edit, two in a long name. */
const allowedEdits = (name: string) => (name.length >= 10 ? 2 : name.length >= 6 ? 1 : 0);

/** The setting of `known` one or two edits from `name` (the fewest), or undefined when none is that near. */
export function nearestSetting(name: string, known: Iterable<string>): string | undefined {
  let nearest: { name: string; edits: number } | undefined;
  for (const setting of known) {
    const edits = distance(name, setting);
    if (edits <= allowedEdits(name) && (!nearest || edits < nearest.edits)) nearest = { name: setting, edits };
  }
  return nearest?.name;
}

/** The warning for `name`, a variable portero ignores, that looks like the setting `meant`. */
export const misspeltWarning = (name: string, meant: string) =>
  `${name} is not a setting of portero: did you mean ${meant}? (it is ignored)`;

/**
 * Warnings for set variables that look like one of portero's settings but are none (`REDIS_ULR`,
 * `JWT_KEY`), each naming the nearest. Warnings, not problems: a platform injects variables of its
 * own (Kubernetes' `REDIS_PORT=tcp://…` for a service named redis), which must not stop a start.
 * `PROVIDER_*` and `APP_*` names are checked elsewhere (src/config/providers.ts, src/config/apps.ts).
 */
export function misspelledSettings(env: Env, known: ReadonlySet<string>): string[] {
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || known.has(name) || name.startsWith('PROVIDER_') || name.startsWith('APP_')) continue;
    if (!/^[A-Z][A-Z0-9_]*$/.test(name)) continue;
    const nearest = nearestSetting(name, known);
    if (nearest) warnings.push(misspeltWarning(name, nearest));
  }
  return warnings;
}
