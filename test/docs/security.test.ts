import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const security = readFileSync(new URL('../../docs/SECURITY.md', import.meta.url), 'utf8');

/** Every `` `test/….ts` › title `` the requirement tables cite, with the row it is in. */
const citations = [...security.matchAll(/`(test\/[\w./-]+\.ts)` › ([^|;]+?)\s*(?=\||;|$)/gm)].map((match) => ({
  file: match[1] as string,
  title: (match[2] as string).trim(),
}));

describe('docs/SECURITY.md', () => {
  it('cites a test for its requirements', () => {
    expect(citations.length).toBeGreaterThan(0);
  });

  it('cites only tests that exist, by a title their file holds', () => {
    const missing = citations.filter(({ file, title }) => {
      try {
        return !readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8').includes(title);
      } catch {
        return true;
      }
    });
    expect(missing).toEqual([]);
  });

  it('is linked from the README', () => {
    expect(readFileSync(new URL('../../README.md', import.meta.url), 'utf8')).toContain('(docs/SECURITY.md)');
  });
});
