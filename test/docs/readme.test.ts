import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorTable } from '../../src/http/error-table.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe("README's table of errors", () => {
  it('names every error code with the status the error table gives it', () => {
    const rows = readme.split('\n').filter((line) => /^\| .* \| \d{3} +\| /.test(line));
    const missing = Object.entries(errorTable)
      .filter(([code, { status }]) => !rows.some((row) => row.includes(`\`${code}\``) && row.includes(`| ${status} `)))
      .map(([code]) => code);
    expect(missing).toEqual([]);
  });
});

describe("README's log events", () => {
  it('name every event portero logs, and only events it logs', () => {
    const sources = readdirSync(new URL('../../src', import.meta.url), { recursive: true, encoding: 'utf8' })
      .filter((path) => path.endsWith('.ts'))
      .map((path) => readFileSync(new URL(`../../src/${path}`, import.meta.url), 'utf8'));
    const logged = new Set(sources.flatMap((source) => [...source.matchAll(/\bevent: '([a-z_]+)'/g)].map((m) => m[1]!)));
    expect(logged).toContain('login_completed');
    const undocumented = [...logged].filter((event) => !new RegExp(`[\`"]${event}[\`"]`).test(readme));
    // The security events' table, whose first cells are events: each one logged.
    const section = readme.slice(readme.indexOf('### Logs'), readme.indexOf('### Metrics'));
    const tabled = [...section.matchAll(/^\| `([a-z_]+)` +\|/gm)].map((m) => m[1]!).filter((cell) => cell !== 'event');
    expect(tabled).toContain('session_ended');
    const neverLogged = tabled.filter((event) => !logged.has(event));
    expect({ undocumented, neverLogged }).toEqual({ undocumented: [], neverLogged: [] });
  });
});
