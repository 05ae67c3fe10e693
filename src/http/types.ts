import type { BrandConfig } from '../config/types.js';
import type { PorteroError } from '../errors.js';

/** Who sent a request, as far as portero can tell. */
export interface Client {
  /** The client's address: the socket's, or from a trusted proxy's `X-Forwarded-For` / `Forwarded`. */
  readonly address: string;
  /** What abuse limits count by: the address, or an IPv6 client's /64 (one subscriber's network). */
  readonly limitKey: string;
  /** An IPv6 client's /48 (a site's allocation), which abuse limits count too; undefined for IPv4. */
  readonly networkKey?: string;
  /** Whether the socket peer is a trusted proxy, whose `X-Forwarded-Proto/Host/Uri` are believed. */
  readonly viaTrustedProxy: boolean;
}

/**
 * The security events, each logged as one line with a stable `event` (the README's table) and
 * counted in the metrics (`requestCounter`): `login_completed`, `session_ended` (its `reason` is
 * the metric's `kind`) and `token_renewed` (`provider`, `via`) a route reports; `login_refused`,
 * `rate_limited` and `identity_header_refused` the request log derives from the error. Fields are
 * ids and names, never a token or a secret.
 */
export interface SecurityEvent {
  readonly event: 'login_completed' | 'login_refused' | 'session_ended' | 'token_renewed' | 'rate_limited' | 'identity_header_refused';
  readonly fields: Readonly<Record<string, string | number | undefined>>;
}

/** What handlers share through the Hono context. */
export type AppEnv = {
  Variables: {
    /** Set by `requestId`, on every request. */
    requestId: string;
    /** Set by the error mapper, read by the request log. */
    error?: PorteroError;
    /** What a route adds to its request's log line (safe detail only: never a value of the user's). */
    logDetail?: Readonly<Record<string, unknown>>;
    /** PUBLIC_URL's path, for links in pages ('' when PUBLIC_URL has none). */
    basePath: string;
    /** BRAND_NAME and BRAND_LOGO_URL, for every page (`pageContext`). */
    brand: BrandConfig;
    /** Who sent the request (`clientAddress`), for the abuse limits and the log. */
    client: Client;
    /** A security event of this request (a login completed, a session ended), logged as a line of its own (`requestLog`). */
    securityEvents?: readonly SecurityEvent[];
  };
};
