import type { AppClientConfig } from '../config/types.js';

/** The one scope of an app's API: what an access token for it (`resource`) carries. */
const API_SCOPE = 'api';

/**
 * RFC 8707 resource indicators, for an app's own APIs (`APP_<ID>_RESOURCES`): an access token
 * asked for one of them (`resource`, at authorization and at the token endpoint) is an RFC 9068
 * `at+jwt`, RS256, `aud` the API, scope `api`, living `tokenTtl` (JWT_TTL). Without `resource`, the
 * access token is opaque and for userinfo. A resource the app did not register is `invalid_target`
 * (`InvalidTarget`, oidc-provider's error class, passed in so that this module never loads it).
 */
export function resourceIndicators(apps: readonly AppClientConfig[], tokenTtl: number, InvalidTarget: new (description?: string) => Error) {
  const resourcesOf = new Map(apps.map((app) => [app.clientId, new Set(app.resources)]));
  return {
    // The library's defaults: no resource unless the app names one, at the token endpoint too.
    enabled: true,
    getResourceServerInfo: async (_ctx: unknown, resource: string, client: { clientId: string }) => {
      if (!resourcesOf.get(client.clientId)?.has(resource)) throw new InvalidTarget();
      return {
        scope: API_SCOPE,
        audience: resource,
        accessTokenTTL: tokenTtl,
        accessTokenFormat: 'jwt' as const,
        jwt: { sign: { alg: 'RS256' as const } },
      };
    },
  };
}
