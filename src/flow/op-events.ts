import type { IncomingMessage } from 'node:http';
import type { KoaContextWithOIDC, default as Provider } from 'oidc-provider';
import type { AppLogout } from './op-logout.js';

// What the OpenID Provider tells portero of itself: the events portero logs and counts, and the
// failures it answers `server_error` for (it logs nothing itself).

/** The provider's events portero logs and counts. Ids only: never a token. */
export interface OpObserver {
  tokenIssued(event: { readonly clientId: string; readonly grantType: string; readonly sub?: string }): void;
  appLoggedOut(event: AppLogout): void;
}

/** Tells `observer` of the token responses and the back-channel logouts the provider sends itself (its end-session endpoint). */
export function observe(provider: Provider, observer: OpObserver): void {
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const clientId = ctx.oidc.client?.clientId;
    const grantType = String(ctx.oidc.params?.grant_type ?? '');
    const sub = (ctx.oidc.entities as { Account?: { accountId?: string } }).Account?.accountId;
    if (clientId) observer.tokenIssued({ clientId, grantType, ...(sub ? { sub } : {}) });
  });
  provider.on('backchannel.success', (_ctx: unknown, client: { clientId: string }, _sub: string, sid: string) =>
    observer.appLoggedOut({ clientId: client.clientId, sid, outcome: 'sent' }),
  );
  provider.on('backchannel.error', (_ctx: unknown, err: Error, client: { clientId: string }, _sub: string, sid: string) =>
    observer.appLoggedOut({ clientId: client.clientId, sid, outcome: 'failed', error: err.message.slice(0, 200) }),
  );
}

const FAILED = Symbol('the OpenID Provider failed');

/** Notes on its request what oidc-provider answered `server_error` for (the store unreachable, a bug): it logs nothing itself. */
export function noteFailures(provider: Provider): void {
  provider.on('server_error', (ctx: KoaContextWithOIDC, err: unknown) => {
    (ctx.req as IncomingMessage & { [FAILED]?: unknown })[FAILED] = err;
  });
}

/** The error the provider answered this request `server_error` for, if it did: for the request log. */
export const providerFailureOf = (request: IncomingMessage): unknown => (request as IncomingMessage & { [FAILED]?: unknown })[FAILED];

/**
 * The store could not answer: 503 with Retry-After, as portero's own routes answer, and to an API
 * client `temporarily_unavailable` (RFC 6749's word for it) rather than `server_error`, so an app
 * retries rather than reports a bug.
 */
export function answerUnavailable(ctx: Pick<KoaContextWithOIDC, 'status' | 'set' | 'body'>): void {
  ctx.status = 503;
  ctx.set('Retry-After', '5');
  if (ctx.body && typeof ctx.body === 'object' && 'error' in ctx.body) {
    ctx.body = { error: 'temporarily_unavailable', error_description: 'the store is unreachable: try again shortly' };
  }
}
