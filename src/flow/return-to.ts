import type { FlowConfig } from '../config/types.js';
import { getPublicSuffix } from 'tldts';
import { PorteroError, RETURN_TO_NOT_ALLOWED } from '../errors.js';

/**
 * PUBLIC_URL (where a login without `return_to` ends, and what relative paths resolve against) and
 * ALLOWED_REDIRECTS (origins, or `https://*.example.com` for any subdomain, not example.com itself).
 */
export type ReturnToPolicy = Pick<FlowConfig, 'publicUrl' | 'allowedRedirects'>;

// Control characters, whitespace and backslashes have no business in a return URL, and browsers
// "repair" them in ways a parser here may not (`/\evil.com`, `/%09/evil.com`, `java\tscript:`).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point: they are refused.
const SUSPICIOUS = /[\u0000-\u0020\u007f-\u00a0\\\u2028\u2029]/;

/** An absolute URL as written: `http://` or `https://` (any case), then a host, not a third slash. */
const ABSOLUTE = /^https?:\/\/[^/]/i;

/**
 * A path of portero's origin: exactly one `/`, then anything but another `/` or `\` (a browser reads
 * `//host` and `/\host` as another host), nor their percent-encodings (an app that decodes the path
 * and redirects again would read them so). `/` alone is fine.
 */
const PATH = /^\/(?![/\\]|%2f|%5c)/i;

/**
 * Whether `origin` (a URL's `origin`, as the browser computes it) is one portero sends people to
 * and takes sign-outs from: PUBLIC_URL's (always: relative paths resolve to it, and an operator who
 * lists the apps in ALLOWED_REDIRECTS should not have to list the gateway too), or one ALLOWED_REDIRECTS
 * names: equal to an origin, or, for `scheme://*.suffix[:port]`, the same scheme and port and a
 * host ending in `.suffix`. A trailing dot (`app.example.com.`) is another origin to a browser: it
 * matches no pattern (ALLOWED_REDIRECTS refuses one).
 */
export function isAllowedOrigin(origin: string, policy: ReturnToPolicy): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return url.origin === new URL(policy.publicUrl).origin || policy.allowedRedirects.some((pattern) => matches(url, pattern));
}

function matches(url: URL, pattern: string): boolean {
  const wildcard = pattern.indexOf('://*.');
  if (wildcard === -1) return url.origin === pattern;
  const scheme = pattern.slice(0, wildcard + 1);
  const rest = pattern.slice(wildcard + 5); // after "://*."
  const colon = rest.lastIndexOf(':');
  const [suffix, port] = colon > -1 && !rest.endsWith(']') ? [rest.slice(0, colon), rest.slice(colon + 1)] : [rest, ''];
  return url.protocol === scheme && url.port === port && url.hostname.endsWith(`.${suffix}`) && withinOneOwner(url.hostname, suffix);
}

/**
 * Whether `hostname` belongs to whoever owns `suffix`: its public suffix (the Public Suffix List,
 * private section included) lies above `suffix`. `*.amazonaws.com` must not take
 * `attacker.s3.amazonaws.com`, where anyone may host a site (`s3.amazonaws.com` is a public suffix
 * below amazonaws.com); start-up already refuses a pattern that is a public suffix itself. A host
 * the list cannot read (`a!b.s3.amazonaws.com`, which a browser's URL parser keeps) has no owner
 * to check, and matches no pattern.
 */
function withinOneOwner(hostname: string, suffix: string): boolean {
  const publicSuffix = getPublicSuffix(hostname, { allowPrivateDomains: true });
  return publicSuffix !== null && suffix.endsWith(`.${publicSuffix}`);
}

function refuse(reason: string, detail: Readonly<Record<string, string>> = {}): never {
  throw new PorteroError(RETURN_TO_NOT_ALLOWED, 'return_to is not an allowed address', { detail: { reason, ...detail } });
}

/** `value` parsed on its own (absolute) or against PUBLIC_URL (a path); anything else is refused. */
function parse(value: string, publicUrl: string): URL {
  const base = ABSOLUTE.test(value) ? undefined : PATH.test(value) ? `${publicUrl}/` : refuse('neither an absolute http(s) URL nor a path');
  try {
    return new URL(value, base);
  } catch {
    return refuse('not a URL');
  }
}

/**
 * The absolute URL to send the browser to after sign-in or sign-out, or a `return_to_not_allowed`
 * error. `return_to` is either an absolute http(s) URL, without credentials, whose origin is
 * portero's own or allowed, or a path that starts with exactly one `/` (resolved against
 * PUBLIC_URL); anything else (`foo`, `../x`, `%2F%2Fevil.example`, `//evil.example`, `:x`,
 * `https:evil.example`) is refused. The answer is the parsed, re-serialised URL, so what the browser
 * follows is exactly what was checked.
 */
export function resolveReturnTo(value: string | undefined, policy: ReturnToPolicy): string {
  if (value === undefined || value === '') return `${policy.publicUrl}/`;
  if (value.length > 2048) refuse('too long');
  if (SUSPICIOUS.test(value)) refuse('control character, whitespace or backslash');
  const url = parse(value, policy.publicUrl);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse('scheme');
  if (url.username || url.password) refuse('credentials in URL');
  // An empty label: `.a.example.com`, `a..example.com`, or a trailing dot (`app.example.com.`),
  // which a browser keeps and treats as another origin. Refused rather than normalised, so that what
  // the browser follows is what was asked for.
  if (url.hostname.split('.').includes('')) refuse('empty label in host');
  // `/a/..//evil.example` resolves to the path `//evil.example`: the right origin, but a path that
  // anything reading it alone would take for another host.
  if (url.pathname.startsWith('//')) refuse('path starts with //');
  // The origin refused and what it was held against, for the operator who meant to allow it.
  if (!isAllowedOrigin(url.origin, policy)) {
    const allowed = [...new Set([new URL(policy.publicUrl).origin, ...policy.allowedRedirects])].join(',');
    refuse('origin not allowed', { origin: url.origin, allowed_redirects: allowed.slice(0, 512) });
  }
  return url.href;
}
