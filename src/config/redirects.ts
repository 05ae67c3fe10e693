import { parse as parseDomain } from 'tldts';
import type { EnvReader } from './reader.js';

const NOT_AN_ORIGIN = 'is not an origin (like https://app.example.com or https://*.example.com)';

/**
 * One ALLOWED_REDIRECTS entry as an origin, or a subdomain pattern (`https://*.example.com`), or the
 * reason it is neither. A wildcard over a public suffix, of the PSL's ICANN section (`*.co.uk`) or
 * its private one (`*.github.io`, where anyone can have a site), would make every site there a
 * redirect target: refused, as is a host with a trailing dot (another origin to a browser).
 */
function allowedEntry(entry: string): { origin: string } | { problem: string } {
  const wildcard = entry.includes('://*.');
  let url: URL;
  try {
    url = new URL(wildcard ? entry.replace('://*.', '://wildcard.') : entry);
  } catch {
    return { problem: NOT_AN_ORIGIN };
  }
  const bare = url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
  const scheme = url.protocol === 'https:' || url.protocol === 'http:';
  // Only what a DNS name or an IP address holds: the origin becomes a CSP source too, where `;` or `'` would end it.
  const host = /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?|\[[0-9a-f:.]+\])$/.test(url.hostname);
  if (!bare || !scheme || !host) return { problem: NOT_AN_ORIGIN };
  if (url.hostname.endsWith('.')) return { problem: 'ends its host with a dot, which browsers treat as another origin: leave the dot out' };
  if (!wildcard) return { origin: url.origin };
  const suffix = url.hostname.slice('wildcard.'.length);
  if (parseDomain(suffix, { allowPrivateDomains: true }).domain === null) {
    return {
      problem: `covers the public suffix ${suffix} (Public Suffix List), so every site registered under it would be a redirect target: name a domain of your own, like ${url.protocol}//*.example.${suffix}`,
    };
  }
  return { origin: url.origin.replace('://wildcard.', '://*.') };
}

/** ALLOWED_REDIRECTS: `https://app.example.com` or `https://*.example.com`, comma-separated; default: portero's own origin. */
export function allowedRedirects(reader: EnvReader, ownOrigin: string): string[] {
  const raw = reader.text('ALLOWED_REDIRECTS');
  if (!raw) return [ownOrigin];
  const origins: string[] = [];
  for (const entry of raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const checked = allowedEntry(entry);
    if ('origin' in checked) origins.push(checked.origin);
    else reader.problem(`ALLOWED_REDIRECTS entry ${JSON.stringify(entry)} ${checked.problem}`);
  }
  return origins;
}
