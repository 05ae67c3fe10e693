import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { presets } from '../../src/providers/index.js';
import { PRODUCTION_ENV } from '../support/app.js';
import { blocksCoveredBy } from '../support/code-blocks.js';

// The recipes: the blocks of docs/providers.md whose snippet comment names this test.
const recipes = blocksCoveredBy('test/docs/providers.test.ts');
const blocks = recipes.map((block) => block.text);

// A recipe names files on the operator's machine (`/run/secrets/...`). Each is stood in for by a
// file of the same kind in a directory of this test's own; every other line is used as written.
const dir = mkdtempSync(join(tmpdir(), 'portero-recipes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FIXTURES: Record<string, string> = {
  PRIVATE_KEY_FILE: String(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' })),
  ALLOWED_EMAILS_FILE: 'ada@company.com\n',
};

function withFixtures(env: Record<string, string | undefined>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value = ''] of Object.entries(env)) {
    const kind = Object.keys(FIXTURES).find((suffix) => name.endsWith(`_${suffix}`));
    if (!kind) {
      result[name] = value;
      continue;
    }
    const file = join(dir, name);
    writeFileSync(file, FIXTURES[kind] ?? '', { mode: 0o600 });
    result[name] = file;
  }
  return result;
}

describe('docs/providers.md', () => {
  it('holds its recipes in env blocks', () => {
    expect(recipes.map((block) => `${block.file} ${block.lang}`)).toEqual(recipes.map(() => 'docs/providers.md env'));
    expect(recipes.length).toBeGreaterThanOrEqual(Object.keys(presets).length);
  });

  it('has a recipe for every preset', () => {
    const types = blocks.map((block) => parseConfig({ ...PRODUCTION_ENV, ...withFixtures(parseEnv(block)) }).providers[0]?.type);
    expect(Object.keys(presets).filter((type) => !types.includes(type))).toEqual([]);
  });

  it.each(blocks.map((block) => [block.split('\n')[0], block]))('%s…: its env lines, as written, start production', (_, block) => {
    const config = parseConfig({ ...PRODUCTION_ENV, ...withFixtures(parseEnv(block)) });
    expect(config.mode).toBe('production');
    expect(config.providers).toHaveLength(1);
  });
});
