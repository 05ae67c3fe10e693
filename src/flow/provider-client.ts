import * as client from 'openid-client';
import { PorteroError, PROVIDER_UNAVAILABLE } from '../errors.js';
import { findPreset, type ProviderDefinition, type ProviderRegistry, type ProviderSettings, presets } from '../providers/index.js';
import { isHttpAllowed, isLoopbackHost } from '../shared/loopback.js';

/** A provider as configured by the operator, ready to run the OAuth dance. */
export interface ConfiguredProvider {
  readonly id: string;
  readonly displayName: string;
  readonly definition: ProviderDefinition;
  readonly settings: ProviderSettings;
  readonly scopes: readonly string[];
  /**
   * The openid-client configuration: discovered once for OIDC providers (a failed discovery is
   * retried by the next login rather than remembered), built from explicit endpoints otherwise.
   */
  client(): Promise<client.Configuration>;
}

export interface ProviderOptions {
  /** Seconds to wait for a provider's HTTP endpoints. */
  readonly timeout?: number;
  /** Provider types by name; the presets unless a test adds its own. */
  readonly registry?: ProviderRegistry;
}

/**
 * How the client secret travels to the token endpoint, unless the preset says otherwise. HTTP Basic
 * is what RFC 6749 requires every server to support and OIDC's default, so it is used unless
 * discovery lists only the form body; decided at each request from the discovered metadata.
 * Providers without discovery (GitHub and the like) take it in the form body.
 */
function defaultClientAuth(definition: ProviderDefinition, settings: ProviderSettings): client.ClientAuth {
  if (!settings.clientSecret) return client.None();
  const basic = client.ClientSecretBasic(settings.clientSecret);
  const post = client.ClientSecretPost(settings.clientSecret);
  if (definition.protocol === 'oauth2') return post;
  return (as, ...rest) => {
    const supported = as.token_endpoint_auth_methods_supported;
    return (supported === undefined || supported.includes('client_secret_basic') ? basic : post)(as, ...rest);
  };
}

/**
 * Whether plain http must be allowed: an endpoint on a loopback host, which start-up allows.
 * openid-client then allows it for every request of this provider, so what discovery finds is
 * checked too (`checkDiscoveredEndpoints`).
 */
function isInsecure(server: ReturnType<ProviderDefinition['server']>): boolean {
  const urls = server.kind === 'discovery' ? [server.issuer] : Object.values(server.endpoints);
  return urls.some((url) => url !== undefined && new URL(url).protocol === 'http:' && isLoopbackHost(new URL(url).hostname));
}

/**
 * Entra ID's multi-tenant endpoints (`/common`, `/organizations`, `/consumers`) publish a templated
 * issuer, `https://login.microsoftonline.com/{tenantid}/v2.0`, which openid-client fills in from
 * each ID token's own `tid`: a token of any tenant then validates. Only a preset whose
 * `checkIdToken` decides which tenants may sign in can use one.
 */
function refuseTemplatedIssuer(definition: ProviderDefinition, issuer: string): void {
  if (issuer.includes('{') && !definition.checkIdToken) {
    throw new Error(`the issuer is a template (${issuer}): a token of any tenant would validate; configure one tenant's issuer`);
  }
}

/**
 * Every endpoint discovery named is https, or plain http on a loopback host: an issuer on loopback
 * (a local IdP, or a tunnel) must not be able to point the token endpoint, and with it the client
 * secret and the code, or the keys, at plain http elsewhere.
 */
function checkDiscoveredEndpoints(metadata: client.ServerMetadata): void {
  const { authorization_endpoint, token_endpoint, userinfo_endpoint, jwks_uri } = metadata;
  for (const [name, url] of Object.entries({ authorization_endpoint, token_endpoint, userinfo_endpoint, jwks_uri })) {
    if (url !== undefined && !(URL.canParse(url) && isHttpAllowed(new URL(url)))) {
      throw new Error(`discovery names ${name} ${url}, which is neither https nor on a loopback host`);
    }
  }
}

async function buildClient(definition: ProviderDefinition, settings: ProviderSettings, timeout: number): Promise<client.Configuration> {
  const server = definition.server(settings);
  const insecure = isInsecure(server);
  const auth = definition.clientAuthentication?.(settings) ?? defaultClientAuth(definition, settings);
  let config: client.Configuration;
  if (server.kind === 'discovery') {
    // The discovered configuration as openid-client made it (with its own Entra ID multi-tenant
    // issuer handling), never rebuilt from its metadata.
    config = await client.discovery(new URL(server.issuer), settings.clientId, undefined, auth, {
      timeout,
      ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
    });
    refuseTemplatedIssuer(definition, config.serverMetadata().issuer);
    checkDiscoveredEndpoints(config.serverMetadata());
    // The code flow could trust TLS alone (OIDC Core 3.1.3.7); checking the ID token's signature
    // against the issuer's JWKS as well costs one cached fetch and catches a compromised channel.
    client.enableNonRepudiationChecks(config);
  } else {
    const { authorization, token, userinfo } = server.endpoints;
    const metadata: client.ServerMetadata = {
      issuer: new URL(authorization).origin,
      authorization_endpoint: authorization,
      token_endpoint: token,
      ...(userinfo ? { userinfo_endpoint: userinfo } : {}),
    };
    config = new client.Configuration(metadata, settings.clientId, undefined, auth);
    if (insecure) client.allowInsecureRequests(config);
  }
  config.timeout = timeout;
  return config;
}

/** A provider of type `definition` with the operator's `settings`; discovery happens on first use. */
export function configureProvider(
  definition: ProviderDefinition,
  settings: ProviderSettings,
  options: ProviderOptions = {},
): ConfiguredProvider {
  const timeout = options.timeout ?? 10;
  let pending: Promise<client.Configuration> | undefined;
  return Object.freeze({
    id: settings.id,
    displayName: settings.displayName ?? definition.displayName,
    definition,
    settings,
    scopes: settings.scopes ?? definition.scopes,
    client() {
      pending ??= buildClient(definition, settings, timeout).catch((cause: unknown) => {
        pending = undefined;
        throw new PorteroError(PROVIDER_UNAVAILABLE, `cannot reach ${settings.id} for discovery`, {
          cause,
          detail: { provider: settings.id, reason: (cause as Error).message },
        });
      });
      return pending;
    },
  });
}

/** Every configured provider by id, each of the type its settings name. */
export function configureProviders(settings: readonly ProviderSettings[], options: ProviderOptions = {}): Map<string, ConfiguredProvider> {
  return new Map(
    settings.map((entry) => {
      const definition = findPreset(entry.type, options.registry ?? presets);
      // Config parsing refused unknown types; meeting one here is a caller's mistake.
      if (!definition) throw new TypeError(`unknown provider type ${entry.type}`);
      return [entry.id, configureProvider(definition, entry, options)];
    }),
  );
}
