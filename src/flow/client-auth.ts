import { importPKCS8 } from 'jose';
import * as client from 'openid-client';
import {
  type ClientKey,
  type ProviderDefinition,
  type ProviderSettings,
  providerPrefix,
  type TokenAuthMethod,
} from '../providers/index.js';

/**
 * The method portero authenticates with at this provider's token endpoint, as far as the settings
 * decide it: the operator's `_TOKEN_AUTH_METHOD`, else `private_key_jwt` with a key, else the
 * preset's. Undefined: a secret, sent as the provider's metadata prefers (see {@link clientAuthFor}).
 */
export function chosenAuthMethod(definition: ProviderDefinition, settings: ProviderSettings): TokenAuthMethod | undefined {
  if (settings.tokenAuthMethod) return settings.tokenAuthMethod;
  if (settings.privateKey) return 'private_key_jwt';
  return definition.tokenAuthMethod;
}

/** The key as WebCrypto wants it for signing, imported once, on the first token request. */
function signingKey(privateKey: ClientKey): () => Promise<client.PrivateKey> {
  let imported: Promise<client.PrivateKey> | undefined;
  return () => {
    const pem = privateKey.key.export({ type: 'pkcs8', format: 'pem' }).toString();
    imported ??= importPKCS8(pem, privateKey.alg).then((key) => ({ key, ...(privateKey.id ? { kid: privateKey.id } : {}) }));
    return imported;
  };
}

/**
 * `private_key_jwt` (RFC 7523, OpenID Connect Core 9): a fresh assertion signed with the key for
 * each request, which openid-client makes and awaits.
 */
function privateKeyJwt(privateKey: ClientKey): client.ClientAuth {
  const key = signingKey(privateKey);
  return async (as, metadata, body, headers) => client.PrivateKeyJwt(await key())(as, metadata, body, headers);
}

/**
 * How the client authenticates at the token endpoint: the preset's own way (Apple), a signed
 * assertion with a key, the secret as the operator or the preset says, or, left open, HTTP Basic
 * (what RFC 6749 requires every server to support, and OpenID Connect's default) unless discovery
 * lists only the form body. Providers without discovery (GitHub and the like) take it in the form body.
 * A public client (no secret, no key) sends its id only, and PKCE protects its code.
 */
export function clientAuthFor(definition: ProviderDefinition, settings: ProviderSettings): client.ClientAuth {
  if (definition.clientAuthentication) return definition.clientAuthentication(settings);
  const method = chosenAuthMethod(definition, settings);
  if (method === 'private_key_jwt' && settings.privateKey) return privateKeyJwt(settings.privateKey);
  if (!settings.clientSecret) return client.None();
  const basic = client.ClientSecretBasic(settings.clientSecret);
  const post = client.ClientSecretPost(settings.clientSecret);
  if (method) return method === 'client_secret_post' ? post : basic;
  if (definition.protocol === 'oauth2') return post;
  return (as, ...rest) => {
    const supported = as.token_endpoint_auth_methods_supported;
    return (supported === undefined || supported.includes('client_secret_basic') ? basic : post)(as, ...rest);
  };
}

/**
 * What the provider's metadata allows must cover what the settings chose: the method (and for a
 * key, its algorithm), and `form_post` when it is asked for. Checked once, after discovery, so a
 * mismatch is a provider that cannot be used (logged with the reason), never a login that fails
 * half-way at the token endpoint.
 */
export function checkMetadataAllows(definition: ProviderDefinition, settings: ProviderSettings, metadata: client.ServerMetadata): void {
  const prefix = providerPrefix(settings.id);
  const method = definition.clientAuthentication ? undefined : chosenAuthMethod(definition, settings);
  const methods = metadata.token_endpoint_auth_methods_supported;
  if (method && methods && !methods.includes(method))
    throw new Error(`the provider's token endpoint accepts ${methods.join(', ')}, not ${method} (${prefix}TOKEN_AUTH_METHOD)`);
  const algs = metadata.token_endpoint_auth_signing_alg_values_supported;
  const alg = settings.privateKey?.alg;
  if (method === 'private_key_jwt' && alg && algs && !algs.includes(alg))
    throw new Error(`the provider accepts client assertions signed with ${algs.join(', ')}, not ${alg} (${prefix}PRIVATE_KEY_FILE)`);
  const modes = metadata.response_modes_supported;
  if (settings.responseMode === 'form_post' && modes && !modes.includes('form_post'))
    throw new Error(`the provider answers by ${modes.join(', ')}, not form_post (${prefix}RESPONSE_MODE)`);
}
