import * as client from 'openid-client';
import { PorteroError, PROVIDER_UNAVAILABLE } from '../errors.js';
import { isHttpAllowed } from '../shared/loopback.js';
import { type ConfiguredProvider, metadataOf } from './provider-client.js';

/** What RP-initiated logout sends the browser to the provider with (OpenID Connect RP-Initiated Logout 1.0, 2). */
export interface EndSessionParams {
  /** Where the provider sends the browser back once signed out: registered with the provider, as the provider compares it exactly. */
  readonly postLogoutRedirectUri: string;
  /** The ID token the provider issued for the session: lets it sign out that session without asking whom. */
  readonly idTokenHint?: string;
  /** Given back, as it is, on the way back to `postLogoutRedirectUri`. */
  readonly state?: string;
}

/**
 * The origin a provider's end_session_endpoint is expected on: its issuer's (where Keycloak, Okta,
 * Auth0, Entra ID and oidc-provider all have it), for the pages' CSP `form-action`, which browsers
 * hold a sign-out form's redirect to. None for a provider without discovery (OAuth 2.0).
 */
export function logoutOrigin(provider: Pick<ConfiguredProvider, 'definition' | 'settings'>): string | undefined {
  const server = provider.definition.server(provider.settings);
  return server.kind === 'discovery' && URL.canParse(server.issuer) ? new URL(server.issuer).origin : undefined;
}

/**
 * Where to send the browser to sign out at the provider too: its `end_session_endpoint` with
 * `id_token_hint`, `post_logout_redirect_uri`, `state` and `client_id` (openid-client's
 * `buildEndSessionUrl`), or undefined when its discovery names none (Google, and every OAuth 2.0
 * provider, GitHub's among them): then only portero's session ends.
 *
 * Rejects, as discovery does, with `provider_unavailable` or `provider_timeout`; also
 * `provider_unavailable` when the endpoint is neither https nor plain http on a loopback host, where
 * the ID token in its query would travel in the clear.
 *
 * @example
 * ```ts
 * const url = await endSessionUrl(provider, { idTokenHint, postLogoutRedirectUri: signedOutUrl(publicUrl), state });
 * return url ? c.redirect(url.href) : c.redirect(returnTo);
 * ```
 * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html#RPLogout
 */
export async function endSessionUrl(provider: ConfiguredProvider, params: EndSessionParams): Promise<URL | undefined> {
  if (!URL.canParse(params.postLogoutRedirectUri)) throw new TypeError('postLogoutRedirectUri must be an absolute URL');
  const config = await provider.client();
  const endpoint: unknown = metadataOf(config).end_session_endpoint;
  if (endpoint === undefined) return undefined;
  if (typeof endpoint !== 'string' || !URL.canParse(endpoint) || !isHttpAllowed(new URL(endpoint))) {
    throw new PorteroError(PROVIDER_UNAVAILABLE, `${provider.id}'s end_session_endpoint is not usable`, {
      detail: { provider: provider.id, reason: 'discovery names an end_session_endpoint that is neither https nor on a loopback host' },
    });
  }
  return client.buildEndSessionUrl(config, {
    post_logout_redirect_uri: params.postLogoutRedirectUri,
    ...(params.idTokenHint !== undefined ? { id_token_hint: params.idTokenHint } : {}),
    ...(params.state !== undefined ? { state: params.state } : {}),
  });
}
