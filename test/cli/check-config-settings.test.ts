import { describe, expect, it } from 'vitest';
import { isSecret, MASK, maskCredentials, scrub, secretValues, settingRows } from '../../src/cli/check-config/settings.js';
import { inspectConfig } from '../../src/config/parse.js';

describe('what check-config shows of a value', () => {
  it('never shows a secret by name, nor a provider variable no preset knows', () => {
    for (const name of [
      'COOKIE_SECRET',
      'COOKIE_SECRET_PREVIOUS',
      'REDIS_PASSWORD',
      'REDIS_SENTINEL_PASSWORD',
      'SESSION_KEY',
      'SESSION_KEY_PREVIOUS',
    ]) {
      expect(isSecret(name)).toBe(true);
    }
    expect(isSecret('PROVIDER_CORP_CLIENT_SECRET')).toBe(true);
    // Misspelt, it still holds the secret it was meant to.
    expect(isSecret('PROVIDER_CORP_CLIENT_SECRT')).toBe(true);
    expect(isSecret('APP_TEAM_WIKI_SECRET')).toBe(true);
    expect(isSecret('APP_TEAM_WIKI_SECRT')).toBe(true);
    for (const name of ['APP_TEAM_WIKI_REDIRECT_URIS', 'APP_WIKI_NAME', 'APP_WIKI_BACKCHANNEL_LOGOUT_URI'])
      expect(isSecret(name)).toBe(false);
    // A framework's, of no app: its value (`production`) would be masked wherever printed.
    expect(isSecret('APP_ENV')).toBe(false);
    // Paths to key files are shown: the path, never the file.
    for (const name of [
      'JWT_KEYS',
      'REDIS_TLS_KEY',
      'PROVIDER_APPLE_PRIVATE_KEY_FILE',
      'PROVIDER_APPLE_KEY_ID',
      'PROVIDER_TIMEOUT',
      'REDIS_URL',
    ]) {
      expect(isSecret(name)).toBe(false);
    }
  });

  it("masks a URL's credentials, whatever their length", () => {
    expect(maskCredentials('redis://portero:hunter2@10.0.0.5:6379/0')).toBe(`redis://portero:${MASK}@10.0.0.5:6379/0`);
    expect(maskCredentials('rediss://:a-much-longer-password@redis.internal')).toBe(`rediss://:${MASK}@redis.internal`);
    // A user name alone is often a token.
    expect(maskCredentials('https://ghp_0123456789@git.example.com/x')).toBe(`https://${MASK}@git.example.com/x`);
    expect(maskCredentials('redis://redis:6379/0?password=p4ss&db=1')).toBe(`redis://redis:6379/0?password=${MASK}&db=1`);
    expect(maskCredentials('https://a.example,https://b.example/x')).toBe('https://a.example,https://b.example/x');
  });

  it("masks a URL's whole password when it holds an @ of its own (the host is after the last @)", () => {
    expect(maskCredentials('redis://:hunter2@secret@redis.internal:6379')).toBe(`redis://:${MASK}@redis.internal:6379`);
    expect(maskCredentials('redis://portero:p@ss:w@rd@h/0')).toBe(`redis://portero:${MASK}@h/0`);
    expect(maskCredentials('https://tok@en@git.example.com/a@b')).toBe(`https://${MASK}@git.example.com/a@b`);
    const env = { REDIS_URL: 'redis://:hunter2@secret@redis.internal:6379' };
    expect(scrub('auth hunter2@secret failed', secretValues(env))).toBe(`auth ${MASK} failed`);
  });

  it('scrubs every secret value set from any text, its comma entries and URL passwords too', () => {
    const previous = 'p'.repeat(32);
    const env = {
      COOKIE_SECRET: 's'.repeat(40),
      COOKIE_SECRET_PREVIOUS: `${previous}, ${'q'.repeat(32)}`,
      REDIS_URL: 'redis://u:pa%24%24word@h:1',
    };
    const text = `a ${'s'.repeat(40)} b ${previous} c pa$$word d pa%24%24word`;
    expect(scrub(text, secretValues(env))).toBe(`a ${MASK} b ${MASK} c ${MASK} d ${MASK}`);
  });
});

describe("check-config's rows", () => {
  it('gives each problem to the setting it names first, and keeps those that name none apart', () => {
    const env = {
      NODE_ENV: 'production',
      COOKIE_DOMAIN: '.other.example',
      PUBLIC_URL: 'https://auth.example.com',
      COOKIE_SECRET_PREVIOUS: 'short',
    };
    const inspection = inspectConfig(env);
    const { rows, unattributed } = settingRows(env, inspection);
    const byName = new Map(rows.map((row) => [row.name, row]));
    // Names PUBLIC_URL too, but COOKIE_DOMAIN first.
    expect(byName.get('COOKIE_DOMAIN')).toMatchObject({
      status: 'wrong',
      problems: [expect.stringMatching(/^COOKIE_DOMAIN .* PUBLIC_URL/)],
    });
    expect(byName.get('PUBLIC_URL')).toMatchObject({ status: 'set', problems: [] });
    // COOKIE_SECRET_PREVIOUS's problem is not COOKIE_SECRET's, though it starts with its name.
    expect(byName.get('COOKIE_SECRET_PREVIOUS')).toMatchObject({ status: 'wrong', value: MASK });
    expect(byName.get('COOKIE_SECRET')).toMatchObject({
      status: 'missing',
      value: '',
      problems: [expect.stringMatching(/required in production/)],
    });
    expect(byName.get('LOG_LEVEL')).toMatchObject({ status: 'default', value: '' });
    expect(unattributed).toEqual([expect.stringMatching(/^no provider is configured/)]);
  });
});
