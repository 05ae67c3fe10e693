import { describe, expect, it } from 'vitest';
import { normalizeDomain, normalizeEmail } from '../../src/shared/email.js';

describe('normalizeDomain', () => {
  it.each([
    ['Company.COM', 'company.com'],
    [' corp.example ', 'corp.example'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
  ])('reads %s as %s', (text, domain) => {
    expect(normalizeDomain(text)).toBe(domain);
  });

  it.each([
    'company.com.',
    '*.company.com',
    '@company.com',
    'company',
    'a..b',
    'https://company.com',
    'company.com:443',
    '-a.com',
    '',
    // Spellings IDNA would rewrite into company.com, each written to pass for it (red team).
    'company%2ecom',
    'com\u00adpany.com',
    'comp\u200bany.com',
    'ｃｏｍｐａｎｙ.com',
    'ＣＯＭＰＡＮＹ．ｃｏｍ',
  ])('refuses %j: no plain domain', (text) => {
    expect(normalizeDomain(text)).toBeUndefined();
  });
});

describe('normalizeEmail', () => {
  it('lower-cases the address and normalises its domain', () => {
    expect(normalizeEmail('Ada.Lovelace@Bücher.Example')).toEqual({
      address: 'ada.lovelace@xn--bcher-kva.example',
      domain: 'xn--bcher-kva.example',
    });
  });

  it('lower-cases A to Z only: the Kelvin sign (U+212A) is no k', () => {
    expect(normalizeEmail('\u212Aim@company.com')?.address).not.toBe('kim@company.com');
    expect(normalizeEmail('KIM@company.com')?.address).toBe('kim@company.com');
  });

  it.each([
    'attacker@evil.com@company.com',
    'company.com',
    '@company.com',
    'a b@company.com',
    '"a@b"@company.com',
    'ada@company.com.',
    'ada\u200b@company.com',
  ])('refuses %j: not exactly one address of one domain', (text) => {
    expect(normalizeEmail(text)).toBeUndefined();
  });
});
