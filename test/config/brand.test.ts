import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { refusedProblems } from '../support/config.js';

const problemsOf = refusedProblems;

describe('BRAND_NAME and BRAND_LOGO_URL', () => {
  it('default to portero, without a logo', () => {
    expect(parseConfig({}).brand).toEqual({ name: 'portero' });
  });

  it('take a product name as text, and an https logo (or http on loopback), as URLs', () => {
    expect(parseConfig({ BRAND_NAME: ' Acme <Tools> ', BRAND_LOGO_URL: 'https://cdn.acme.example/logo.svg?v=2' }).brand).toEqual({
      name: 'Acme <Tools>',
      logoUrl: 'https://cdn.acme.example/logo.svg?v=2',
    });
    expect(parseConfig({ BRAND_LOGO_URL: 'http://localhost:8080/logo.png' }).brand.logoUrl).toBe('http://localhost:8080/logo.png');
  });

  it('report every problem at once', () => {
    expect(
      problemsOf({
        BRAND_NAME: 'x'.repeat(61),
        BRAND_LOGO_URL: 'http://user:pw@cdn.acme.example/brand/#top',
        PORT: 'x',
      }),
    ).toEqual([
      'PORT must be a whole number from 0 to 65535, got "x"',
      'BRAND_LOGO_URL must be https (plain http only on a loopback host), carry no user name or password, carry no #fragment, name the image file, not a folder, got "http://user:pw@cdn.acme.example/brand/#top"',
      'BRAND_NAME must be at most 60 characters, got 61',
    ]);
  });

  it.each([
    ['/static/logo.svg', 'BRAND_LOGO_URL must be an absolute URL (like https://cdn.example.com/logo.svg), got "/static/logo.svg"'],
    ['logo.svg', 'BRAND_LOGO_URL must be an absolute URL (like https://cdn.example.com/logo.svg), got "logo.svg"'],
    ['data:image/svg+xml,<svg/>', 'BRAND_LOGO_URL must be https (plain http only on a loopback host), got "data:image/svg+xml,<svg/>"'],
    ['javascript:alert(1)', 'BRAND_LOGO_URL must be https (plain http only on a loopback host), got "javascript:alert(1)"'],
    [
      'http://cdn.acme.example/logo.svg',
      'BRAND_LOGO_URL must be https (plain http only on a loopback host), got "http://cdn.acme.example/logo.svg"',
    ],
    ['https://cdn.acme.example', 'BRAND_LOGO_URL must name the image file, not a folder, got "https://cdn.acme.example"'],
  ])('refuse the logo %s: only an image at an https URL can be allowed exactly', (url, problem) => {
    expect(problemsOf({ BRAND_LOGO_URL: url })).toEqual([problem]);
  });

  it('refuse a product name of several lines', () => {
    expect(problemsOf({ BRAND_NAME: 'Acme\nTools' })).toEqual(['BRAND_NAME must be one line of text, without control characters']);
  });
});
