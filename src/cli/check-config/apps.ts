import { configuredClientIds } from '../../config/apps.js';
import type { Env } from '../../config/env.js';
import type { AppClientConfig, Config } from '../../config/types.js';
import { type CheckResult, result } from './checks.js';

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** What an app is registered as, never its secret: confidential or public, its URIs counted, back-channel logout and refresh tokens. */
function registration(app: AppClientConfig): string {
  return [
    app.secret === undefined ? 'public (no secret, PKCE)' : 'confidential (client secret)',
    count(app.redirectUris.length, 'redirect URI'),
    count(app.postLogoutRedirectUris.length, 'post-logout redirect URI'),
    `back-channel logout: ${app.backchannelLogoutUri === undefined ? 'no' : 'yes'}`,
    `refresh tokens: ${app.offlineAccess ? 'yes' : 'no'}`,
  ].join(', ');
}

/**
 * Every app of portero's OpenID Provider, as start-up registers it, by client id; one whose
 * settings have a problem is not registered. Listed, not called: an app's back-channel endpoint
 * is its own to serve, and may not be up before portero.
 */
export function listApps(config: Config, env: Env): CheckResult[] {
  const named = configuredClientIds(env);
  if (named.length === 0) return [result('skip', 'apps', 'none configured (APP_<ID>_*): the OpenID Provider is off')];
  const registered = new Map(config.apps.map((app) => [app.clientId, app]));
  return named.map((clientId) => {
    const app = registered.get(clientId);
    return app
      ? result('ok', `app ${clientId}`, registration(app))
      : result('skip', `app ${clientId}`, 'not registered: its settings have problems (see the settings above)');
  });
}
