import { readFileSync } from 'node:fs';
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
