import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { presets } from '../../src/providers/index.js';
import { PRODUCTION_ENV } from '../support/app.js';

const recipes = readFileSync(new URL('../../docs/providers.md', import.meta.url), 'utf8');
const blocks = [...recipes.matchAll(/```env\n([\s\S]*?)```/g)].map((match) => match[1] as string);

describe('docs/providers.md', () => {
  it('has a recipe for every preset', () => {
    const types = blocks.map((block) => parseConfig({ ...PRODUCTION_ENV, ...parseEnv(block) }).providers[0]?.type);
    expect(Object.keys(presets).filter((type) => !types.includes(type))).toEqual([]);
  });

  it.each(blocks.map((block) => [block.split('\n')[0], block]))('%s…: its env lines, as written, start production', (_, block) => {
    const config = parseConfig({ ...PRODUCTION_ENV, ...parseEnv(block) });
    expect(config.mode).toBe('production');
    expect(config.providers).toHaveLength(1);
  });
});
