import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { APP_SUFFIXES } from '../../src/config/apps.js';
import { parseConfig } from '../../src/config/parse.js';
import { COMMON_SUFFIXES } from '../../src/config/providers.js';
import { presets } from '../../src/providers/index.js';
import { PRODUCTION_ENV } from '../support/app.js';

/** What production needs beside PUBLIC_URL: a store, a cookie secret, keys and a provider. */
const PRODUCTION_REST = {
  ...PRODUCTION_ENV,
  PROVIDER_CORP_TYPE: 'oidc',
  PROVIDER_CORP_ISSUER: 'https://sso.corp.example.com',
  PROVIDER_CORP_CLIENT_ID: 'portero',
  PROVIDER_CORP_CLIENT_SECRET: 'secret',
};

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

describe('every PROVIDER_<ID>_* setting a provider reads', () => {
  // Not seen by the check above: parseConfig finds these by listing the environment, not by asking for them.
  const suffixes = [...new Set([...COMMON_SUFFIXES, ...Object.values(presets).flatMap((preset) => preset.variables)])];

  it("has a row in the README's table and an example in .env.example", () => {
    // First cells such as `PROVIDER_<ID>_ALLOWED_EMAIL_DOMAINS`, `_ALLOWED_EMAILS`.
    const rows = readme.split('\n').filter((line) => line.startsWith('| `PROVIDER_<ID>_'));
    const inTable = new Set(
      rows.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`(?:PROVIDER_<ID>)?_([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1])),
    );
    // As parseConfig groups them: the shortest id, then a known suffix (PROVIDER_WIKI_TOKEN_URL is TOKEN_URL, not URL).
    const line = new RegExp(`^#?PROVIDER_[A-Z0-9_]+?_(${suffixes.join('|')})=`, 'gm');
    const inExample = new Set([...envExample.matchAll(line)].map((m) => m[1]));
    const undocumented = suffixes.filter((suffix) => !inTable.has(suffix));
    const notInExample = suffixes.filter((suffix) => !inExample.has(suffix));
    expect({ undocumented, notInExample }).toEqual({ undocumented: [], notInExample: [] });
  });
});

describe('every APP_<ID>_* setting an app reads', () => {
  // Found, like a provider's, by listing the environment: the check of what parseConfig asks for misses them too.
  it("has a row in the README's table and an example in .env.example", () => {
    const rows = readme.split('\n').filter((line) => line.startsWith('| `APP_<ID>_'));
    const inTable = new Set(
      rows.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`APP_<ID>_([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1])),
    );
    const line = new RegExp(`^#?APP_[A-Z0-9_]+?_(${APP_SUFFIXES.join('|')})=`, 'gm');
    const inExample = new Set([...envExample.matchAll(line)].map((m) => m[1]));
    const undocumented = APP_SUFFIXES.filter((suffix) => !inTable.has(suffix));
    const notInExample = APP_SUFFIXES.filter((suffix) => !inExample.has(suffix));
    expect({ undocumented, notInExample }).toEqual({ undocumented: [], notInExample: [] });
  });

  it('is exemplified in .env.example by apps that, uncommented and given a secret, register as they say', () => {
    const lines = [...envExample.matchAll(/^#(APP_[A-Z0-9_]+)=(.*)$/gm)].map(([, name = '', value = '']) => [name, value] as const);
    const env = Object.fromEntries(lines.map(([name, value]) => [name, name.endsWith('_SECRET') ? 'f'.repeat(64) : value]));
    const apps = parseConfig({ ...PRODUCTION_REST, ...env }).apps;
    expect(apps.map((app) => [app.clientId, app.secret === undefined ? 'public' : 'confidential'])).toEqual([
      ['dashboard', 'public'],
      ['team-wiki', 'confidential'],
    ]);
  });

  it("has the README's apps section, which links docs/apps.md", () => {
    expect(readme).toMatch(/^### Apps \(portero as an OpenID Provider\)\n[^#]*\(docs\/apps\.md\)/m);
  });
});
