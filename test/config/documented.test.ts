import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const envExample = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');

/** Every variable `parseConfig` looks at, as an operator's environment would be asked for it. */
function variablesRead(env: Record<string, string>): string[] {
  const read = new Set<string>();
  const recording = new Proxy(env, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return target[name as string];
    },
  });
  try {
    parseConfig(recording);
  } catch {
    // A refused configuration was still read through: what it asked for is what counts here.
  }
  return [...read].filter((name) => /^[A-Z][A-Z0-9_]*$/.test(name));
}

describe('every setting portero reads', () => {
  const names = [...new Set([...variablesRead({}), ...variablesRead({ NODE_ENV: 'production', PUBLIC_URL: 'https://a.example' })])];

  it('is found (the check itself sees the settings)', () => {
    expect(names).toEqual(expect.arrayContaining(['PUBLIC_URL', 'TRUSTED_PROXIES', 'RATE_LIMIT_LOGIN', 'COOKIE_SECRET_PREVIOUS']));
  });

  it("has a row in the README's table and an entry in .env.example", () => {
    // The first cells of the configuration table: `NAME`, or several (`PORT`, `HOST`).
    const rows = readme.split('\n').filter((line) => line.startsWith('| `'));
    const inTable = new Set(rows.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1])));
    const undocumented = names.filter((name) => !inTable.has(name));
    const notInExample = names.filter((name) => !new RegExp(`^#?${name}=`, 'm').test(envExample));
    expect({ undocumented, notInExample }).toEqual({ undocumented: [], notInExample: [] });
  });
});
