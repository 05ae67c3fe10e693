import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PorteroError } from '../../src/errors.js';
import { resolveReturnTo, type ReturnToPolicy } from '../../src/flow/return-to.js';

const GATEWAY = 'https://gateway.test';

/** Whether `value` is refused with `return_to_not_allowed`; any other outcome fails the test. */
function refused(value: string, policy: ReturnToPolicy): boolean {
  try {
    resolveReturnTo(value, policy);
    return false;
  } catch (err) {
    expect(err).toBeInstanceOf(PorteroError);
    expect((err as PorteroError).code).toBe('return_to_not_allowed');
    return true;
  }
}

/** Go's url.QueryUnescape, as oauth2-proxy applies it to each line: `+` is a space, `%XX` a byte. */
function queryUnescape(line: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (char === '%' && /^[0-9a-f]{2}$/i.test(line.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(line.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(char === '+' ? ' ' : char, 'utf8'));
    }
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

describe('return_to against the oauth2-proxy open-redirect corpus', () => {
  const policy: ReturnToPolicy = { publicUrl: GATEWAY, allowedRedirects: ['https://www.whitelisteddomain.tld'] };
  const allowedOrigins = new Set(['https://www.whitelisteddomain.tld', GATEWAY]);
  const file = readFileSync(new URL('../fixtures/openredirects.txt', import.meta.url), 'utf8');
  const payloads = file
    .split('\n')
    .filter((line, index, lines) => line !== '' || index < lines.length - 1)
    .map(queryUnescape);

  it('never sends the browser to another origin, or to anything but http(s)', () => {
    const escapes: string[] = [];
    let accepted = 0;
    let checked = 0;
    for (const payload of payloads) {
      checked++;
      if (refused(payload, policy)) continue;
      accepted++;
      const target = resolveReturnTo(payload, policy);
      const url = new URL(target);
      const safe =
        allowedOrigins.has(url.origin) &&
        (url.protocol === 'https:' || url.protocol === 'http:') &&
        !url.username &&
        !url.password &&
        // What a browser follows is exactly what was checked: already in canonical form.
        url.href === target;
      if (!safe) escapes.push(`${JSON.stringify(payload)} -> ${target}`);
    }
    expect(escapes).toEqual([]);
    expect(checked).toBe(559);
    // Relative paths in the corpus (like "/.localdomain.pw") stay on the gateway and are fine to follow.
    expect(accepted).toBeGreaterThan(0);
  });
});

describe('resolveReturnTo', () => {
  const policy: ReturnToPolicy = { publicUrl: GATEWAY, allowedRedirects: ['https://app.example.com'] };

  it('sends a login without return_to to PUBLIC_URL', () => {
    expect(resolveReturnTo(undefined, policy)).toBe(`${GATEWAY}/`);
    expect(resolveReturnTo('', policy)).toBe(`${GATEWAY}/`);
    expect(resolveReturnTo(undefined, { ...policy, publicUrl: 'https://example.com/auth' })).toBe('https://example.com/auth/');
  });

  it('resolves a path against PUBLIC_URL, even when its origin is not listed in ALLOWED_REDIRECTS', () => {
    expect(resolveReturnTo('/dashboard?tab=1#top', policy)).toBe(`${GATEWAY}/dashboard?tab=1#top`);
    expect(resolveReturnTo('/', policy)).toBe(`${GATEWAY}/`);
    expect(resolveReturnTo('/a/../b/%2F', policy)).toBe(`${GATEWAY}/b/%2F`);
    expect(resolveReturnTo('https://gateway.test/me', policy)).toBe(`${GATEWAY}/me`);
  });

  it.each([
    ['a bare relative reference', 'settings'],
    ['a dot-segment reference', '../x'],
    ['a percent-encoded protocol-relative URL', '%2F%2Fevil.example'],
    ['a path whose second slash is percent-encoded', '/%2F/evil.example'],
    ['a path whose backslash is percent-encoded', '/%5cevil.example'],
    ['a path that dot-segments turn into //host', '/a/..//evil.example'],
    ['a query alone', '?next=1'],
    ['a fragment alone', '#top'],
    ['an empty scheme', '://evil.example'],
    ['a colon first', ':evil.example'],
    ['an http(s) scheme without slashes, which a browser resolves against the page', 'https:evil.example'],
    ['three slashes, which a browser reads as a host', 'https:///evil.example'],
  ])('refuses %s: neither an absolute http(s) URL nor a path starting with exactly one /', (_, value) => {
    expect(refused(value, policy)).toBe(true);
  });

  it('accepts an allowed origin and returns the URL re-serialised', () => {
    expect(resolveReturnTo('https://APP.example.com:443/a/../b?q=%C3%BC', policy)).toBe('https://app.example.com/b?q=%C3%BC');
  });

  it.each([
    ['a protocol-relative URL', '//evil.com'],
    ['a backslash that browsers read as a slash', '/\\evil.com'],
    ['a tab that browsers drop', '/\t/evil.com'],
    ['another origin', 'https://evil.com'],
    ['an allowed host as a prefix of another', 'https://app.example.com.evil.com/'],
    ['credentials in front of an allowed host', 'https://user:pw@app.example.com/'],
    ['an allowed host as credentials', 'https://app.example.com@evil.com/'],
    ['plain http for an https origin', 'http://app.example.com/'],
    ['another port', 'https://app.example.com:8443/'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a javascript: URL in mixed case', 'JaVaScRiPt:alert(document.domain)'],
    ['a data: URL', 'data:text/html,<script>alert(1)</script>'],
    ['an overlong value', `/${'a'.repeat(2048)}`],
  ])('refuses %s', (_, value) => {
    expect(refused(value, policy)).toBe(true);
  });

  it.each([
    ['a backslash', '/\\evil.com'],
    ['a tab', '/\t/evil.com'],
    ['a line break', '/\n/evil.com'],
    ['a tab inside the scheme', 'java\tscript:alert(1)'],
    ['a space', '/my page'],
    ['a no-break space', '/\u00a0/evil.com'],
    ['a line separator', '/\u2028/evil.com'],
  ])('refuses %s before parsing: a browser would repair it in ways this parser may not', (_, value) => {
    const error = (() => {
      try {
        resolveReturnTo(value, policy);
      } catch (err) {
        return err as PorteroError;
      }
      return undefined;
    })();
    expect(error).toMatchObject({ code: 'return_to_not_allowed', detail: { reason: 'control character, whitespace or backslash' } });
  });
});

describe('resolveReturnTo with a subdomain pattern over a domain that holds public suffixes', () => {
  // Red team: s3.amazonaws.com and web.core.windows.net are public suffixes (the PSL's private
  // section): anyone can host a site under them, which the owner of amazonaws.com does not own.
  it.each([
    ['https://*.amazonaws.com', 'https://attacker-bucket.s3.amazonaws.com/phish'],
    ['https://*.amazonaws.com', 'https://x.execute-api.eu-west-1.amazonaws.com/'],
    ['https://*.windows.net', 'https://attacker.z13.web.core.windows.net/'],
    // A host the Public Suffix List cannot read, which a browser's URL parser keeps (second pass).
    ['https://*.amazonaws.com', 'https://a!b.s3.amazonaws.com/'],
    ['https://*.amazonaws.com', "https://x'y.evil.s3.amazonaws.com/"],
  ])('%s does not take %s, a site of whoever registered it', (allowed, target) => {
    expect(() => resolveReturnTo(target, { publicUrl: GATEWAY, allowedRedirects: [allowed] })).toThrow(
      expect.objectContaining({ code: 'return_to_not_allowed' }),
    );
  });

  it('still takes the hosts of the domain itself', () => {
    const policy: ReturnToPolicy = { publicUrl: GATEWAY, allowedRedirects: ['https://*.amazonaws.com', 'https://*.example.co.uk'] };
    expect(resolveReturnTo('https://console.amazonaws.com/', policy)).toBe('https://console.amazonaws.com/');
    expect(resolveReturnTo('https://app.example.co.uk/x', policy)).toBe('https://app.example.co.uk/x');
  });
});

describe('resolveReturnTo with a subdomain pattern', () => {
  const policy: ReturnToPolicy = { publicUrl: GATEWAY, allowedRedirects: ['https://*.example.com'] };

  it.each(['https://a.example.com/x', 'https://a.b.example.com/'])('matches %s', (value) => {
    expect(resolveReturnTo(value, policy)).toBe(value);
  });

  it.each([
    'https://example.com/',
    'https://evilexample.com/',
    'https://a.evilexample.com/',
    'https://example.com.evil.net/',
    'https://a.example.com.evil.com/',
    'https://a.example.com%2eevil.com/',
    'http://a.example.com/',
    'https://a.example.com:8443/',
    'https://a.example.com:80/',
    // A trailing dot: the browser keeps it, and `https://app.example.com.` is another origin (its
    // own cookies, its own certificate name). Refused rather than normalised: what the browser
    // follows is exactly what was asked for and checked.
    'https://app.example.com./',
    'https://app.example.com.:443/',
    // Empty labels, which the suffix check alone would let through.
    'https://.app.example.com/',
    'https://app..example.com/',
    // IDN homographs of the allowed suffix: Cyrillic а (U+0430) and е (U+0435), as typed and as punycode.
    'https://app.exаmple.com/',
    'https://app.еxample.com/',
    'https://app.xn--exmple-4nf.com/',
  ])('does not match %s', (value) => {
    expect(refused(value, policy)).toBe(true);
  });

  it('matches what the browser reads as a subdomain: an IDN label, full-width dots, percent-encoded letters', () => {
    // Each is a real subdomain of example.com; the browser is sent to the re-serialised (punycode) form.
    expect(resolveReturnTo('https://аpp.example.com/', policy)).toBe('https://xn--pp-6kc.example.com/');
    expect(resolveReturnTo('https://app.example。com/', policy)).toBe('https://app.example.com/');
    expect(resolveReturnTo('https://app.ex%61mple.com/', policy)).toBe('https://app.example.com/');
    expect(resolveReturnTo('https://a.example.com:443/', policy)).toBe('https://a.example.com/');
  });

  it('matches a pattern with a port only on that port', () => {
    const withPort: ReturnToPolicy = { publicUrl: GATEWAY, allowedRedirects: ['https://*.example.com:8443'] };
    expect(resolveReturnTo('https://a.example.com:8443/', withPort)).toBe('https://a.example.com:8443/');
    expect(refused('https://a.example.com/', withPort)).toBe(true);
  });
});
