import type { FlowConfig } from '../config/types.js';
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

function matches(origin: URL, pattern: string): boolean {
  const wildcard = pattern.indexOf('://*.');
  if (wildcard === -1) return origin.origin === pattern;
  const scheme = pattern.slice(0, wildcard + 1);
  const rest = pattern.slice(wildcard + 5); // after "://*."
  const colon = rest.lastIndexOf(':');
  const [suffix, port] = colon > -1 && !rest.endsWith(']') ? [rest.slice(0, colon), rest.slice(colon + 1)] : [rest, ''];
  return origin.protocol === scheme && origin.port === port && origin.hostname.endsWith(`.${suffix}`);
}

/**
 * The absolute URL to send the browser to after sign-in or sign-out, or a `return_to_not_allowed`
 * error. Relative paths resolve against PUBLIC_URL; absolute URLs must be http(s), carry no
 * credentials, and have an allowed origin. The answer is the parsed, re-serialised URL, so what the
 * browser follows is exactly what was checked.
 */
export function resolveReturnTo(value: string | undefined, policy: ReturnToPolicy): string {
  if (value === undefined || value === '') return `${policy.publicUrl}/`;
  const refuse = (reason: string): never => {
    throw new PorteroError(RETURN_TO_NOT_ALLOWED, 'return_to is not an allowed address', { detail: { reason } });
  };
  if (value.length > 2048) refuse('too long');
  if (SUSPICIOUS.test(value)) refuse('control character, whitespace or backslash');
  let url: URL;
  try {
    url = new URL(value, `${policy.publicUrl}/`);
  } catch {
    return refuse('not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse('scheme');
  if (url.username || url.password) refuse('credentials in URL');
  // The gateway's own origin is always allowed: relative paths resolve to it, and an operator who
  // lists the apps in ALLOWED_REDIRECTS should not have to list the gateway too.
  const own = url.origin === new URL(policy.publicUrl).origin;
  if (!own && !policy.allowedRedirects.some((pattern) => matches(url, pattern))) refuse('origin not allowed');
  return url.href;
}
