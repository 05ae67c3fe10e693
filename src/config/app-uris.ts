import { isHttpAllowed } from '../shared/loopback.js';
import type { EnvReader } from './reader.js';

// The URIs an app registers (APP_<ID>_REDIRECT_URIS, _POST_LOGOUT_REDIRECT_URIS, _BACKCHANNEL_LOGOUT_URI).

/**
 * A user name or password: an `@` before the path, query or fragment, after the scheme and any
 * slashes, as lenient parsers find one (`https:user:pass@host` too). Checked before anything
 * quotes the URI.
 */
const USERINFO = /^(?:[^:/?#]+:)?\/*[^/?#]*@/;

/**
 * Why one URI cannot be registered, quoting it but when it holds credentials; undefined when it can.
 * A registered URI is compared exactly (OpenID Connect Core 3.1.2.1), so a `*` would match only
 * itself and an app relying on it would fail at its first login; custom schemes of native apps
 * (`com.example.app:/cb`) are not served.
 */
function uriProblem(entry: string): string | undefined {
  if (USERINFO.test(entry)) return 'carries a user name or password (not shown here): a registered URI holds none';
  const quoted = JSON.stringify(entry);
  if (entry.includes('*')) return `${quoted} has a *: no wildcards, every URI is matched exactly; list each one`;
  if (/\s/.test(entry)) return `${quoted} holds a space: separate URIs with commas`;
  if (!URL.canParse(entry)) return `${quoted} is not an absolute URL (like https://app.example.com/callback)`;
  const url = new URL(entry);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return `${quoted} has the custom scheme ${url.protocol.slice(0, -1)}, of a native app: not supported; use https (http only on a loopback host)`;
  }
  // `https:/cb` and `https:\\host` are URLs to a parser, but not the one the app sends.
  if (!entry.toLowerCase().startsWith(`${url.protocol}//`))
    return `${quoted} is not an absolute URL (like https://app.example.com/callback)`;
  if (!isHttpAllowed(url)) return `${quoted} uses plain http on a non-loopback host (${url.host}); use https`;
  if (entry.includes('#')) return `${quoted} has a #fragment, which a redirect URI must not have (RFC 6749 3.1.2)`;
  return undefined;
}

/** A comma list of URIs, each checked, none twice; an entry that breaks a rule is reported and left out. */
export function readUris(variable: string, raw: string | undefined, reader: EnvReader): string[] {
  const entries = (raw ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  const uris: string[] = [];
  const seen = new Map<string, number>();
  for (const [index, entry] of entries.entries()) {
    const problem = uriProblem(entry);
    if (problem) {
      reader.problem(`${variable} entry ${index + 1} ${problem}`);
      continue;
    }
    // As a parser reads them: `https://App.example.com/cb` and `https://app.example.com:443/cb` are one URI.
    const href = new URL(entry).href;
    const earlier = seen.get(href);
    if (earlier !== undefined) {
      reader.problem(`${variable} entry ${index + 1} ${JSON.stringify(entry)} is entry ${earlier} again: list each URI once`);
      continue;
    }
    seen.set(href, index + 1);
    uris.push(entry);
  }
  return uris;
}

/** `_BACKCHANNEL_LOGOUT_URI`: one URI, by the redirect URIs' rules (Back-Channel Logout 1.0 2.2 forbids a fragment too). */
export function readBackchannelUri(variable: string, raw: string | undefined, reader: EnvReader): string | undefined {
  if (!raw) return undefined;
  if (raw.includes(',')) {
    reader.problem(`${variable} takes one URI, not a list (a comma in it is written %2C)`);
    return undefined;
  }
  const problem = uriProblem(raw);
  if (problem) reader.problem(`${variable} ${problem}`);
  return problem ? undefined : raw;
}
