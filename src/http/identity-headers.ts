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
 * The first header of `headers` that names itself one of the identity headers, in any spelling a
 * server behind the proxy may read as one: any case, and `_` for `-` (CGI, so PHP and WSGI, turn
 * `X_Auth_Request_User` and `X-Auth-Request-User` into the same `HTTP_X_AUTH_REQUEST_USER`; nginx
 * drops a name with `_`, Caddy 2.6 and Traefik pass it on). Not `X-Auth-Request-Redirect`, which
 * ingress-nginx sends on its own.
 */
export function sentIdentityHeader(headers: Headers): string | undefined {
  // Headers iterates its names lower-cased; Node's parser keeps the underscores as sent.
  for (const name of headers.keys()) {
    if (NAMES.has(name.replaceAll('_', '-'))) return name;
  }
  return undefined;
}

/**
 * Refuses, with 403 `identity_header_sent`, a request to `/auth` that carries an identity header
 * of its own. The proxy in front should drop or overwrite them (deploy/nginx and deploy/caddy do);
 * this is what keeps an app safe behind a proxy configured without that. 403, not 400: nginx's
 * `auth_request` turns any status but 401 and 403 into a 500. The log names the header, never its value.
 */
export function refuseIdentityHeaders(headers: Headers): void {
  const header = sentIdentityHeader(headers);
  if (header === undefined) return;
  throw new PorteroError(IDENTITY_HEADER_SENT, 'the request carried an identity header of its own', { detail: { header } });
}
