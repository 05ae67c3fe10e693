import { readFileSync } from 'node:fs';

/** portero's version, from its package.json (two folders up from `src/cli` and from `dist/cli` alike). */
export function porteroVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}
