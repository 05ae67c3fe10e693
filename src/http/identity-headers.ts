import { IDENTITY_HEADER_SENT, PorteroError } from '../errors.js';

/**
 * The identity headers `/auth` answers a signed-in request with, which the proxy copies onto the
 * request to the app (nginx `auth_request_set`, Caddy `copy_headers`, Traefik
 * `authResponseHeaders`, ingress-nginx `auth-response-headers`). The app believes them; nothing
 * else may set them.
 */
export const IDENTITY_HEADERS = Object.freeze([
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-preferred-username',
  'x-auth-request-groups',
  'x-auth-request-token',
] as const);

const NAMES: ReadonlySet<string> = new Set(IDENTITY_HEADERS);

/**
 * The first header name of `names` that names itself one of the identity headers, in any spelling
 * a server behind the proxy may read as one: any case, and `_` for `-` (CGI, so PHP and WSGI, turn
 * `X_Auth_Request_User` and `X-Auth-Request-User` into the same `HTTP_X_AUTH_REQUEST_USER`; nginx
 * drops a name with `_`, Caddy 2.6 and Traefik pass it on). Not `X-Auth-Request-Redirect`, which
 * ingress-nginx sends on its own.
 */
function sentIdentityHeader(names: Iterable<string>): string | undefined {
  for (const name of names) {
    // Only a name of the right length and start is worth lower-casing: this runs on every /auth.
    if (name.length < 19 || name.length > 33 || (name.charCodeAt(0) | 0x20) !== 0x78) continue;
    if (NAMES.has(name.toLowerCase().replaceAll('_', '-'))) return name;
  }
  return undefined;
}

/**
 * The names of a request's headers as they came: from Node's raw headers (names at even indexes,
 * the parser's own array, nothing built), else, called without a socket (`app.request` in a
 * test), from the Headers, which iterates them lower-cased and sorted at some cost.
 */
function* headerNames(headers: Headers, rawHeaders: readonly string[] | undefined): Iterable<string> {
  if (rawHeaders === undefined) {
    yield* headers.keys();
    return;
  }
  for (let i = 0; i < rawHeaders.length; i += 2) yield rawHeaders[i] as string;
}

/**
 * Node keeps the first 1000 headers of a request (2000 names and values in `rawHeaders`; the
 * parser's `maxHeaderPairs`, as `server.maxHeadersCount` is unset) and drops the rest unseen,
 * while the proxy in front passes every one of them on to the app. A request that reaches the
 * limit may hide an identity header past it, so it is refused as if it carried one (the Headers
 * made from it, without a socket, are counted the same).
 */
const NODE_MAX_HEADERS = 1000;

/**
 * Refuses, with 403 `identity_header_sent`, a request to `/auth` that carries an identity header
 * of its own. The proxy in front should drop or overwrite them (deploy/nginx and deploy/caddy do);
 * this is what keeps an app safe behind a proxy configured without that. 403, not 400: nginx's
 * `auth_request` turns any status but 401 and 403 into a 500. The log names the header, never its value.
 * A request with so many headers that Node kept only the first 1000 is refused too.
 */
export function refuseIdentityHeaders(headers: Headers, rawHeaders?: readonly string[]): void {
  const count = rawHeaders === undefined ? [...headers.keys()].length : rawHeaders.length / 2;
  if (count >= NODE_MAX_HEADERS) {
    throw new PorteroError(IDENTITY_HEADER_SENT, 'the request carried more headers than could be checked for identity headers', {
      detail: { header: '(too many headers)', headers: count },
    });
  }
  const header = sentIdentityHeader(headerNames(headers, rawHeaders));
  if (header === undefined) return;
  throw new PorteroError(IDENTITY_HEADER_SENT, 'the request carried an identity header of its own', {
    detail: { header: header.toLowerCase() },
  });
}
