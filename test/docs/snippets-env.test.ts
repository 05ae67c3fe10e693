import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { PRODUCTION_ENV } from '../support/app.js';
import { blocksCoveredBy } from '../support/code-blocks.js';

// The README's blocks of settings (`.env` lines), as an operator pastes them into the `.env` of a
// production deployment: each, on top of what production needs (and a provider of this test's own,
// for a block that configures none), must start production with every name in it one portero reads.
// docs/providers.md's recipes have a test of their own, test/docs/providers.test.ts.

const blocks = blocksCoveredBy('test/docs/snippets-env.test.ts');

/** A corporate IdP, for a block that configures no provider. */
const PROVIDER = {
  PROVIDER_CORP_TYPE: 'oidc',
  PROVIDER_CORP_ISSUER: 'https://sso.corp.example.com',
  PROVIDER_CORP_CLIENT_ID: 'portero',
  PROVIDER_CORP_CLIENT_SECRET: 'secret',
};

describe("the README's blocks of settings", () => {
  it('are its provider and branding examples', () => {
    expect(blocks.map((block) => [block.lang, block.heading])).toEqual([
      ['env', 'Providers'],
      ['env', 'Branding'],
    ]);
  });

  it.each(blocks.map((block) => [block.where, block] as const))('%s, as written, starts production', (_, block) => {
    const settings = parseEnv(block.text);
    const names = Object.keys(settings);
    expect(names.length).toBeGreaterThan(0);
    const provider = names.some((name) => name.startsWith('PROVIDER_')) ? {} : PROVIDER;
    const config = parseConfig({ ...PRODUCTION_ENV, ...provider, ...settings });
    expect(config.mode).toBe('production');
    expect(config.warnings).toEqual([]);
  });

  it('sets what they say: three providers with their rules, the brand', () => {
    const [providers, branding] = blocks.map((block) => parseEnv(block.text));
    const config = parseConfig({ ...PRODUCTION_ENV, ...providers });
    expect(config.providers.map((provider) => provider.id).sort()).toEqual(['corp', 'github', 'google']);
    expect(parseConfig({ ...PRODUCTION_ENV, ...PROVIDER, ...branding }).brand).toMatchObject({
      name: 'Acme Tools',
      logoUrl: 'https://www.acme.example/static/logo.svg',
    });
  });
});
