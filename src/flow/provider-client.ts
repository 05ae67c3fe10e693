import * as client from 'openid-client';
import { type Clock, systemClock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { PorteroError } from '../errors.js';
import { findPreset, type ProviderDefinition, type ProviderRegistry, type ProviderSettings, presets } from '../providers/index.js';
import { isHttpAllowed, isLoopbackHost } from '../shared/loopback.js';
import { checkMetadataAllows, clientAuthFor } from './client-auth.js';
import { classifyDiscoveryError } from './grant-errors.js';
import { boundedFetch, conformingFetch } from './provider-http.js';

/**
 * Seconds a failed discovery is remembered before the next login tries again: long enough that a
 * flood of logins at a dead provider is not a flood of discoveries, short enough that a provider
 * back up is used again at once.
 */
export const DISCOVERY_RETRY_BACKOFF = 5;

/** A provider as configured by the operator, ready to run the OAuth dance. */
export interface ConfiguredProvider {
  readonly id: string;
  readonly displayName: string;
  readonly definition: ProviderDefinition;
  readonly settings: ProviderSettings;
  readonly scopes: readonly string[];
  /** CLOCK_SKEW: seconds its clock may disagree with ours, allowed on its ID tokens' `exp`, `iat` and `nbf`. */
  readonly clockSkew: number;
  /**
   * The openid-client configuration: discovered once for OIDC providers (a failed discovery is not
   * kept: the first login after {@link DISCOVERY_RETRY_BACKOFF} seconds tries again; those before
   * get the same failure at once), built from explicit endpoints otherwise.
   */
  client(): Promise<client.Configuration>;
}

export interface ProviderOptions {
  /** PROVIDER_TIMEOUT: seconds a whole answer of a provider's endpoint may take (default 10). */
  readonly timeout?: number;
  /** CLOCK_SKEW: seconds of tolerance on ID token times (default 30). */
  readonly clockSkew?: number;
  /** Times the discovery backoff. */
  readonly clock?: Clock;
  /** Provider types by name; the presets unless a test adds its own. */
  readonly registry?: ProviderRegistry;
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
 * `checkIdToken` decides which tenants may sign in can use one, and only with settings it counts
 * as public (so production asked for a rule): whatever the configured address looked like
 * (`/%63ommon/`), what discovery answered is what openid-client goes by.
 */
function refuseTemplatedIssuer(definition: ProviderDefinition, settings: ProviderSettings, issuer: string): void {
  if (issuer.includes('{') && !(definition.checkIdToken && definition.publicUsers?.(settings) === true)) {
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

async function buildClient(
  definition: ProviderDefinition,
  settings: ProviderSettings,
  options: { timeout: number; clockSkew: number },
): Promise<client.Configuration> {
  const server = definition.server(settings);
  const insecure = isInsecure(server);
  const auth = clientAuthFor(definition, settings);
  // Every request of this provider (discovery, JWKS, token, userinfo, a preset's fetchJson) goes
  // through one bounded fetch: a whole answer within PROVIDER_TIMEOUT, of at most 1 MiB.
  const fetch = boundedFetch(options.timeout);
  const metadata: Partial<client.ClientMetadata> = { [client.clockTolerance]: options.clockSkew };
  let config: client.Configuration;
  if (server.kind === 'discovery') {
    // The discovered configuration as openid-client made it (with its own Entra ID multi-tenant
    // issuer handling), never rebuilt from its metadata.
    config = await client.discovery(new URL(server.issuer), settings.clientId, metadata, auth, {
      timeout: options.timeout,
      [client.customFetch]: fetch,
      ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
    });
    refuseTemplatedIssuer(definition, settings, config.serverMetadata().issuer);
    checkDiscoveredEndpoints(config.serverMetadata());
    checkMetadataAllows(definition, settings, config.serverMetadata());
    // The code flow could trust TLS alone (OIDC Core 3.1.3.7); checking the ID token's signature
    // against the issuer's JWKS as well costs one cached fetch and catches a compromised channel.
    client.enableNonRepudiationChecks(config);
  } else {
    const { authorization, token, userinfo } = server.endpoints;
    const serverMetadata: client.ServerMetadata = {
      issuer: new URL(authorization).origin,
      authorization_endpoint: authorization,
      token_endpoint: token,
      ...(userinfo ? { userinfo_endpoint: userinfo } : {}),
    };
    config = new client.Configuration(serverMetadata, settings.clientId, metadata, auth);
    config[client.customFetch] = fetch;
    if (insecure) client.allowInsecureRequests(config);
  }
  // openid-client's own deadline too, per request; boundedFetch's covers the body as well.
  config.timeout = options.timeout;
  const { conformTokenResponse } = definition;
  const { token_endpoint } = config.serverMetadata();
  if (conformTokenResponse && token_endpoint) {
    config[client.customFetch] = conformingFetch(fetch, token_endpoint, (body) => conformTokenResponse.call(definition, body));
  }
  return config;
}

/**
 * Discovers (or builds) a provider's configuration once, and keeps it. A failure is kept only
 * {@link DISCOVERY_RETRY_BACKOFF} seconds: logins meanwhile get it again at once, with when to try
 * again; the first one after discovers anew.
 */
function discoverOnce(
  build: () => Promise<client.Configuration>,
  provider: string,
  clock: Clock,
  url: string,
): () => Promise<client.Configuration> {
  let pending: Promise<client.Configuration> | undefined;
  let failed: { error: PorteroError; at: number } | undefined;
  return () => {
    if (failed) {
      const left = failed.at + DISCOVERY_RETRY_BACKOFF * 1000 - clock.now();
      if (left > 0) return Promise.reject(classifyDiscoveryError(failed.error.cause, provider, left / 1000, url));
      failed = undefined;
    }
    pending ??= build().catch((cause: unknown) => {
      pending = undefined;
      const error = classifyDiscoveryError(cause, provider, DISCOVERY_RETRY_BACKOFF, url);
      failed = { error, at: clock.now() };
      throw error;
    });
    return pending;
  };
}

/** Where a provider is asked first: its issuer (discovery at `<issuer>/.well-known/openid-configuration`), or its token endpoint. */
const serverUrl = (server: ReturnType<ProviderDefinition['server']>) =>
  server.kind === 'discovery' ? `${server.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration` : server.endpoints.token;

/** A provider of type `definition` with the operator's `settings`; discovery happens on first use. */
export function configureProvider(
  definition: ProviderDefinition,
  settings: ProviderSettings,
  options: ProviderOptions = {},
): ConfiguredProvider {
  const timeout = options.timeout ?? 10;
  const clockSkew = options.clockSkew ?? 30;
  const build = () => buildClient(definition, settings, { timeout, clockSkew });
  return Object.freeze({
    id: settings.id,
    displayName: settings.displayName ?? definition.displayNameFor?.(settings) ?? definition.displayName,
    definition,
    settings,
    scopes: settings.scopes ?? definition.scopesFor?.(settings) ?? definition.scopes,
    clockSkew,
    client: discoverOnce(build, settings.id, options.clock ?? systemClock, serverUrl(definition.server(settings))),
  });
}

const metadataCopies = new WeakMap<client.Configuration, Readonly<client.ServerMetadata>>();

/**
 * The provider's server metadata, copied once per configuration: openid-client's
 * `serverMetadata()` clones it on every call (a `structuredClone` per login), and it never
 * changes after discovery. Frozen, so no caller can change the copy the others read.
 */
export function metadataOf(config: client.Configuration): Readonly<client.ServerMetadata> {
  let metadata = metadataCopies.get(config);
  if (!metadata) {
    metadata = Object.freeze(config.serverMetadata());
    metadataCopies.set(config, metadata);
  }
  return metadata;
}

/** The options the configuration sets: PROVIDER_TIMEOUT and CLOCK_SKEW. */
export const providerOptions = (config: Pick<Config, 'flow' | 'tokens'>): ProviderOptions => ({
  timeout: config.flow.providerTimeout,
  clockSkew: config.tokens.clockSkew,
});

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
