import type { Context } from 'hono';
import { IDENTITY_HEADER_SENT, NOT_ALLOWED, type PorteroError, UNAUTHENTICATED } from '../errors.js';
import type { AuthResult, Metrics } from '../metrics.js';
import type { AppEnv, SecurityEvent } from './types.js';

/**
 * What `/auth` or `/auth/redirect` answered, by its error: the four results
 * `portero_auth_requests_total` counts. `/auth/redirect` answers a request that is not signed in
 * with its 302 to sign in, no error: that is `unauthenticated` too.
 */
function authResult(error: PorteroError | undefined, status: number): AuthResult {
  if (!error) return status === 302 ? 'unauthenticated' : 'ok';
  if (error.code === UNAUTHENTICATED) return 'unauthenticated';
  // Both 403s: a location's rule refusing the user, and a request naming itself (identity_header_sent).
  return error.code === NOT_ALLOWED || error.code === IDENTITY_HEADER_SENT ? 'forbidden' : 'error';
}

/**
 * Counts a security event: each event the log writes a line for is a number too, so an event a
 * route starts to report is counted without a change here. `login_refused` is the callback's
 * `not_allowed` failure, counted with the other failures.
 */
function countEvent(metrics: Metrics, { event, fields }: SecurityEvent): void {
  switch (event) {
    case 'login_completed':
      metrics.loginCompleted(String(fields.provider));
      break;
    case 'session_ended':
      metrics.sessionEnded(String(fields.reason ?? 'unknown'));
      break;
    case 'token_renewed':
      metrics.tokenRenewed(String(fields.provider), String(fields.via ?? 'unknown'));
      break;
    case 'rate_limited':
      metrics.rateLimited(String(fields.limit));
      break;
  }
}

/** The provider a login or callback path names, when it is one of `providers`: never a label from a client's own words. */
function configuredProvider(c: Context, providers: ReadonlySet<string>): string | undefined {
  const id = /\/(?:login|callback)\/([^/]+)\/?$/.exec(c.req.path)?.[1];
  return id !== undefined && providers.has(id) ? id : undefined;
}

/** What a request did, as its log line has it: what `RequestCounter` counts from. */
export interface RequestFacts {
  readonly error: PorteroError | undefined;
  readonly events: readonly SecurityEvent[];
  /** The route that answered, without PUBLIC_URL's path (`routeInApp`). */
  readonly route: string;
  readonly durationMs: number;
}

export type RequestCounter = (c: Context<AppEnv>, facts: RequestFacts) => void;

/**
 * Turns what a request did into numbers, from the facts its log line is made of (the route, the
 * error, the security events), in the request log's own pass (`requestLog`), so the log and the
 * numbers never disagree and no middleware of its own costs every request a hop: logins started
 * at `/login/:provider`, callbacks timed and their failures counted by error code, `/auth`'s
 * answers, and every security event.
 */
export function requestCounter(metrics: Metrics, providers: ReadonlySet<string>): RequestCounter {
  for (const id of providers) metrics.provider(id);
  return (c, { error, events, route, durationMs }) => {
    if (route === '/auth' || route === '/auth/redirect') metrics.authResult(authResult(error, c.res.status));
    else if (route === '/login/:provider' && !error) {
      const provider = configuredProvider(c, providers);
      if (provider) metrics.loginStarted(provider);
    } else if (route === '/callback/:provider') {
      const provider = configuredProvider(c, providers);
      if (provider) {
        metrics.callbackDuration(provider, durationMs / 1000);
        if (error) metrics.loginFailed(provider, error.code);
      }
    }
    for (const event of events) countEvent(metrics, event);
  };
}
