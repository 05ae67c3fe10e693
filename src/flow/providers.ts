import * as client from 'openid-client';
import { findPreset, type Provider } from '../../providers/index.js';
import type { ProviderSettings } from '../config/types.js';
import { isLoopbackHost } from '../config/providers.js';
import { PorteroError } from '../errors.js';

/** A provider as configured by the operator, ready to run the OAuth dance. */
export interface ConfiguredProvider {
  readonly id: string;
  readonly displayName: string;
  readonly preset: Provider;
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
}

const allowsHttp = (url: string | undefined) =>
  url !== undefined && new URL(url).protocol === 'http:' && isLoopbackHost(new URL(url).hostname);

/**
 * How the client secret travels to the token endpoint. HTTP Basic is what RFC 6749 requires every
 * server to support and OIDC's default, so it is used unless discovery lists only the form body.
 * Providers without discovery (GitHub and the like) take it in the form body.
 */
function clientAuth(settings: ProviderSettings, metadata?: client.ServerMetadata): client.ClientAuth {
  if (!settings.clientSecret) return client.None();
  const supported = metadata?.token_endpoint_auth_methods_supported;
  const basic = metadata !== undefined && (supported === undefined || supported.includes('client_secret_basic'));
  return basic ? client.ClientSecretBasic(settings.clientSecret) : client.ClientSecretPost(settings.clientSecret);
}

async function buildClient(preset: Provider, settings: ProviderSettings, timeout: number): Promise<client.Configuration> {
  let config: client.Configuration;
  // Plain http was refused at start-up except on loopback hosts; here it only needs allowing.
  const insecure = [settings.issuer, settings.authorizationUrl, settings.tokenUrl, settings.userinfoUrl].some(allowsHttp);
  if (preset.protocol === 'oidc') {
    const discovered = await client.discovery(new URL(settings.issuer!), settings.clientId, undefined, client.None(), {
      timeout,
      ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
    });
    const metadata = discovered.serverMetadata();
    config = new client.Configuration(metadata, settings.clientId, undefined, clientAuth(settings, metadata));
    if (insecure) client.allowInsecureRequests(config);
    // The code flow could trust TLS alone (OIDC Core 3.1.3.7); checking the ID token's signature
    // against the issuer's JWKS as well costs one cached fetch and catches a compromised channel.
    client.enableNonRepudiationChecks(config);
  } else {
    const metadata: client.ServerMetadata = {
      issuer: new URL(settings.authorizationUrl!).origin,
      authorization_endpoint: settings.authorizationUrl,
      token_endpoint: settings.tokenUrl,
      userinfo_endpoint: settings.userinfoUrl,
    };
    config = new client.Configuration(metadata, settings.clientId, undefined, clientAuth(settings));
    if (insecure) client.allowInsecureRequests(config);
  }
  config.timeout = timeout;
  return config;
}

export function configureProvider(settings: ProviderSettings, options: ProviderOptions = {}): ConfiguredProvider {
  const preset = findPreset(settings.type);
  if (!preset) throw new TypeError(`unknown provider type ${settings.type}`);
  const timeout = options.timeout ?? 10;
  let pending: Promise<client.Configuration> | undefined;
  return Object.freeze({
    id: settings.id,
    displayName: settings.displayName ?? preset.displayName,
    preset,
    settings,
    scopes: settings.scopes ?? preset.scopes,
    client() {
      pending ??= buildClient(preset, settings, timeout).catch((cause: unknown) => {
        pending = undefined;
        throw new PorteroError('provider_unavailable', `cannot reach ${settings.id} for discovery`, {
          cause,
          detail: { provider: settings.id, reason: (cause as Error).message },
        });
      });
      return pending;
    },
  });
}

export function configureProviders(settings: readonly ProviderSettings[], options?: ProviderOptions): Map<string, ConfiguredProvider> {
  return new Map(settings.map((entry) => [entry.id, configureProvider(entry, options)]));
}
