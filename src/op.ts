import type { MiddlewareHandler } from 'hono';
import type { Config } from './config/types.js';
import { endProviderSessionsOf } from './flow/op-logout.js';
import type { OpObserver } from './flow/op-events.js';
import { OpenIdProviderHolder } from './flow/op-provider.js';
import { OpSessionLinks, porteroSessionOf } from './flow/op-sessions.js';
import { refusedAsEnded } from './flow/session-access.js';
import type { EndedSession } from './flow/session-lifecycle.js';
import type { HttpDeps } from './http/deps.js';
import type { PageContext } from './http/layout.js';
import { noteEnded, providerSecurityHeaders } from './http/op-handover.js';
import { opPages } from './http/op-pages.js';
import { clientLimit } from './http/rate-limit.js';
import { interactionBinding, type OpRouteDeps } from './http/routes/op.js';
import type { KeyValueStore } from './store/types.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface MountedProvider {
  /** For `SessionLifecycle`: a session ended in portero ends the apps' sessions of it (back-channel logout). */
  readonly afterEnd: (ended: EndedSession) => Promise<void>;
  /** The provider's routes' deps, with the security headers portero's responses carry. */
  routes(securityHeaders: MiddlewareHandler): OpRouteDeps;
}

/**
 * portero's OpenID Provider for `createApp` (with `APP_<ID>_*`): the provider built on the app's
 * store, keys and sessions, ending the apps' sessions when portero's end, and ending portero's when
 * the browser signs out at the provider. `deps` is read at request time: the HTTP deps are built
 * after this, with `afterEnd`.
 */
export function openIdProvider(
  options: { readonly config: Config; readonly logger: Logger; readonly metrics: Metrics },
  store: KeyValueStore,
  page: PageContext,
  deps: () => HttpDeps,
): MountedProvider {
  const { config, logger, metrics } = options;
  for (const app of config.apps) metrics.app(app.clientId);
  const observer: OpObserver = {
    tokenIssued: ({ clientId, grantType, sub }) => {
      metrics.appTokenIssued(clientId, grantType);
      logger.info({ event: 'app_token_issued', client_id: clientId, grant_type: grantType, sub }, 'tokens issued to an app');
    },
    appLoggedOut: ({ clientId, sid, outcome, error }) => {
      metrics.appLogout(clientId, outcome);
      const line = { event: 'app_logout_sent', client_id: clientId, sid, outcome, error };
      if (outcome === 'sent') logger.info(line, 'back-channel logout sent to an app');
      else logger.warn(line, 'back-channel logout to an app failed: its tokens are revoked all the same');
    },
  };
  const links = new OpSessionLinks(store, config.sessions.ttl);
  const holder = new OpenIdProviderHolder(
    {
      publicUrl: config.server.publicUrl,
      apps: config.apps,
      store,
      cookieSecrets: [config.cookies.secret, ...config.cookies.previousSecrets],
      secureCookies: config.cookies.secure,
      ttl: { session: config.sessions.ttl, token: config.tokens.ttl, flow: config.flow.ttl, providerTimeout: config.flow.providerTimeout },
      sessionClaims: async (sid, { activity }) => {
        const record = await deps().lifecycle.living({ sid }).catch(refusedAsEnded);
        return (record && activity ? await deps().lifecycle.touch(record) : record)?.claims;
      },
      links,
      observer,
      pages: opPages(page),
      onInteractionStarted: (uid) => [deps().cookies.flowLine(interactionBinding(uid), uid)],
      onSignedOut: async (request) => {
        const session = porteroSessionOf(request);
        if (!session) return [];
        noteEnded(request, await deps().lifecycle.end(session, 'logout'));
        return [deps().cookies.clearTokenLine()];
      },
    },
    () => deps().keys.current,
  );
  return {
    afterEnd: async (ended) => {
      const outcomes = await endProviderSessionsOf(await holder.get(), links, ended.sid);
      for (const logout of outcomes) observer.appLoggedOut(logout);
    },
    routes: (securityHeaders) => ({
      holder,
      handOver: { publicUrl: new URL(config.server.publicUrl), securityHeaders: providerSecurityHeaders(securityHeaders) },
      ...(config.rateLimits.token ? { tokenLimit: store.rateLimiter('token', config.rateLimits.token) } : {}),
      ...(config.rateLimits.login ? { authorizeLimit: clientLimit(store, 'authorize', config.rateLimits.login) } : {}),
      clientSecrets: new Map(config.apps.map((app) => [app.clientId, app.secret])),
    }),
  };
}
