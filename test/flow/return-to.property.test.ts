import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPorteroError } from '../../src/errors.js';
import { resolveReturnTo, type ReturnToPolicy } from '../../src/flow/return-to.js';

// A property: no string resolveReturnTo accepts sends a browser off the allowed origins. Each
// accepted answer is read as a browser reads a Location header (WHATWG URL, against the page it
// came from) and its origin checked by a matcher of the test's own, written differently from the
// validator's: label arrays compared from the right, ports made explicit. fast-check prints the
// seed and the shrunk counterexample of a failure; `fc.assert(..., { seed, path })` replays it.
// RETURN_TO_RUNS=400000 runs it longer.

const PUBLIC_URL = 'https://gateway.test';
const PATTERNS = ['https://portal.example.net', 'https://*.example.com', 'http://*.dev.example.org:8080'];
const policy: ReturnToPolicy = { publicUrl: PUBLIC_URL, allowedRedirects: PATTERNS };

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** `https://*.example.com:8443` as scheme, wildcard, host labels and an explicit port. */
function parsePattern(pattern: string) {
  const match = /^(https?):\/\/(\*\.)?([a-z0-9.-]+)(?::(\d+))?$/.exec(pattern);
  if (!match) throw new TypeError(`not a pattern: ${pattern}`);
  const [, scheme, star, host, port] = match;
  return { protocol: `${scheme}:`, wildcard: star !== undefined, labels: host!.split('.'), port: port ?? DEFAULT_PORTS[`${scheme}:`]! };
}

const ALLOWED = [PUBLIC_URL, ...PATTERNS].map(parsePattern);

/** Whether a browser at `url` is on an allowed origin: same scheme, same port, same labels (or more in front, for a wildcard). */
function onAllowedOrigin(url: URL): boolean {
  const labels = url.hostname.split('.');
  const port = url.port || DEFAULT_PORTS[url.protocol];
  return ALLOWED.some((allowed) => {
    if (url.protocol !== allowed.protocol || port !== allowed.port) return false;
    const extra = labels.length - allowed.labels.length;
    if (allowed.wildcard ? extra < 1 : extra !== 0) return false;
    if (labels.slice(0, extra).some((label) => label === '')) return false;
    return allowed.labels.every((label, i) => labels[extra + i] === label);
  });
}

/** resolveReturnTo's answer, or undefined when it refuses with return_to_not_allowed (anything else fails). */
function accepted(value: string): string | undefined {
  try {
    return resolveReturnTo(value, policy);
  } catch (err) {
    if (isPorteroError(err, 'return_to_not_allowed')) return undefined;
    throw err;
  }
}

/** One of `usual` most of the time (so that a fair share of the strings is accepted), else one of `odd`. */
const part = (usual: readonly string[], odd: readonly string[]) =>
  fc.oneof({ arbitrary: fc.constantFrom(...usual), weight: 3 }, { arbitrary: fc.constantFrom(...odd), weight: 1 });

const whitespace = part([''], [' ', '\t', '\n', '\r', '\u0000', '\u001f', '\u007f', '\u00a0', '\u2028', '\u3000', '\ufeff']);
const scheme = part(
  ['https:', 'http:', 'HTTPS:', 'hTtP:'],
  ['javascript:', 'data:', 'ftp:', 'blob:', 'ws:', '', ':', 'https', 'ht\ttps:', 'https%3A'],
);
const slashes = part(['//'], ['', '/', '///', '////', '\\', '\\\\', '/\\', '\\/', '%2F', '%2f%2f', '%5C', '/%2F', '/%09/', '/./', '/../']);
const userinfo = part([''], ['user@', 'user:pw@', '@', 'a.example.com@', 'gateway.test@', 'portal.example.net:443@', '%40']);
const host = part(
  // Allowed, or looking so; and IDN forms a browser maps onto allowed names.
  [
    'gateway.test',
    'GATEWAY.test',
    'portal.example.net',
    'a.example.com',
    'A.B.Example.COM',
    'x.dev.example.org',
    'аpp.example.com',
    'xn--pp-6kc.example.com',
    'ＡＰＰ.example.com',
    'app.example。com',
    'app.example．com',
    'gateway。test',
  ],
  // Near misses, evil ones, homographs of the allowed names, and hosts that hide another.
  [
    'example.com',
    'evilexample.com',
    'example.com.evil.com',
    'a.example.com.evil.com',
    'a.example.com.',
    '.a.example.com',
    'a..example.com',
    'portal.example.net.',
    'gateway.test.',
    'dev.example.org',
    'x.dev.example.org.evil',
    'xdev.example.org',
    'evil.com',
    'evil.com%2Fa.example.com',
    'a.example.com%2eevil.com',
    'a.example.com%00.evil.com',
    '127.0.0.1',
    '0x7f.1',
    '[::1]',
    'localhost',
    'app.exаmple.com',
    'app.xn--exmple-4nf.com',
    'portal.exаmple.net',
    'a.example.com\u200b',
    'ex\u00adample.com',
  ],
);
const port = part(['', ':8080', ':443'], [':', ':80', ':8443', ':0443', ':0', ':65535', ':65536', ':x']);
const rest = part(
  ['', '/', '/x', '/a?b=c#d'],
  ['?q', '#f', '/..', '/../', '/%2e%2e/', '//evil.com', '/\\evil.com', '@evil.com', ':@evil.com', '.evil.com'],
);
const token = fc.oneof(whitespace, scheme, slashes, userinfo, host, port, rest);

/** A URL-shaped string: scheme, slashes, credentials, host, port, path, with whitespace or control characters around. */
const shaped = fc.tuple(whitespace, scheme, slashes, userinfo, host, port, rest, whitespace).map((parts) => parts.join(''));
/** A path: slashes, dots and percent-encoding, with the pieces of a URL after it. */
const pathLike = fc.tuple(whitespace, slashes, fc.array(token, { maxLength: 4 })).map(([ws, slash, parts]) => ws + slash + parts.join(''));
/** The same pieces in any order and number. */
const jumbled = fc.array(token, { minLength: 1, maxLength: 10 }).map((parts) => parts.join(''));
/** Anything at all: any code point, and fast-check's own web URLs (some on an allowed host, most not). */
const arbitrary = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ maxLength: 60 }),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.webUrl({ validSchemes: ['http', 'https'] }).map((url) => url.replace(/^(https?:\/\/)[^/?#]+/, '$1a.example.com')),
);
const candidates = fc.oneof(
  { arbitrary: shaped, weight: 4 },
  { arbitrary: pathLike, weight: 2 },
  { arbitrary: jumbled, weight: 2 },
  { arbitrary: arbitrary, weight: 2 },
);

describe('resolveReturnTo, as a property', () => {
  it('never sends a browser off the allowed origins, whatever string it is given', () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(candidates, (value) => {
        const result = accepted(value);
        if (result === undefined) return;
        // As the browser reads the Location header: relative to the page that answered.
        const target = new URL(result, `${PUBLIC_URL}/`);
        expect(onAllowedOrigin(target), `${JSON.stringify(value)} -> ${result}`).toBe(true);
        expect(target.username + target.password).toBe('');
        // Absolute and canonical: what the browser follows is exactly what was checked.
        expect(new URL(result).href).toBe(result);
        // The value as given, should anything pass it on unchanged, lands on an allowed origin too.
        expect(onAllowedOrigin(new URL(value, `${PUBLIC_URL}/`)), `${JSON.stringify(value)} as given`).toBe(true);
        seen.set(target.origin, (seen.get(target.origin) ?? 0) + 1);
      }),
      { numRuns: Number(process.env.RETURN_TO_RUNS ?? 20_000) },
    );
    // The grammar reaches every allowed origin, so the property was tested on accepted values, not just refusals.
    const origins = [...seen.keys()];
    expect(origins).toContain(PUBLIC_URL);
    expect(origins).toContain('https://portal.example.net');
    expect(origins.some((origin) => origin.endsWith('.example.com'))).toBe(true);
    expect(origins.some((origin) => origin.endsWith('.dev.example.org:8080'))).toBe(true);
    expect([...seen.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(1000);
  });

  it('the independent matcher agrees with the examples it must get right', () => {
    const at = (href: string) => onAllowedOrigin(new URL(href));
    expect(at('https://a.example.com/')).toBe(true);
    expect(at('https://a.b.example.com:443/')).toBe(true);
    expect(at('http://x.dev.example.org:8080/')).toBe(true);
    expect(at('https://gateway.test/x')).toBe(true);
    expect(at('https://example.com/')).toBe(false);
    expect(at('https://evilexample.com/')).toBe(false);
    expect(at('https://example.com.evil.com/')).toBe(false);
    expect(at('https://a.example.com./')).toBe(false);
    expect(at('https://a.example.com:8443/')).toBe(false);
    expect(at('http://a.example.com/')).toBe(false);
    expect(at('http://x.dev.example.org/')).toBe(false);
    expect(at('https://portal.example.net.evil/')).toBe(false);
  });
});
