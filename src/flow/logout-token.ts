import { createHash } from 'node:crypto';
import { createRemoteJWKSet, customFetch, decodeJwt, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import * as client from 'openid-client';
import type { Clock } from '../clock.js';
import { BACKCHANNEL_UNSUPPORTED, INVALID_LOGOUT_TOKEN, PorteroError, PROVIDER_TIMEOUT, PROVIDER_UNAVAILABLE } from '../errors.js';
import { storeKeys } from '../store/keys.js';
import type { KeyValueStore } from '../store/types.js';
import { reasonOf } from './grant-errors.js';
import { type ConfiguredProvider, metadataOf } from './provider-client.js';
import { boundedFetch } from './provider-http.js';

/** The member of a logout token's `events` claim that makes it one (OpenID Connect Back-Channel Logout 1.0, 2.4). */
const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * Seconds after its `iat` a logout token is still accepted (plus CLOCK_SKEW): a provider sends it
 * the moment the user signs out (oidc-provider gives it an `exp` of 2 minutes, and the spec
 * recommends as short), so 5 minutes covers a slow delivery, while a token captured later cannot be
 * replayed. Its `jti` is remembered as long, so within the window a replay is refused by the store.
 */
export const LOGOUT_TOKEN_MAX_AGE = 300;

/** The longest logout token read: a few hundred bytes of claims and a signature; longer is no logout token. */
const MAX_LOGOUT_TOKEN_LENGTH = 16 * 1024;

/** The longest `sid`, `sub` or `jti` accepted (OpenID Connect Core caps `sub` at 255 ASCII characters). */
const MAX_CLAIM_LENGTH = 512;

/**
 * Algorithms a logout token may be signed with: asymmetric ones only. `none` is forbidden by the
 * spec (2.6), and an HMAC key is the client secret, which anyone holding it (every instance, a
 * leaked configuration) could sign a logout of anyone with.
 */
const ASYMMETRIC_ALGORITHMS = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);

/** The `typ` headers of a logout token (compared lower-cased): the spec's `logout+jwt`, and a plain JWT, as older providers send. */
const LOGOUT_TOKEN_TYPES = new Set(['logout+jwt', 'application/logout+jwt', 'jwt', 'application/jwt']);

/** Whom a valid logout token signs out: the provider's session `sid`, its user `sub`, or both (at least one). */
export interface LogoutSubject {
  readonly sid?: string;
  readonly sub?: string;
}

export interface LogoutTokenDeps {
  /** Where used `jti`s are kept (`storeKeys.logoutJti`), shared by every instance. */
  readonly store: KeyValueStore;
  /** The time the token's `iat`, `exp` and `nbf` are held against. */
  readonly clock: Clock;
}

/** Seconds a used `jti` is kept: as long as a token of that `iat` could still be accepted, from any moment it was. */
export const logoutJtiTtl = (clockSkew: number) => LOGOUT_TOKEN_MAX_AGE + 2 * clockSkew;

const refused = (provider: string, reason: string, cause?: unknown) =>
  new PorteroError(INVALID_LOGOUT_TOKEN, 'the logout token is not valid', { detail: { provider, reason }, cause });

/** The JWKS could not be had (not a token's fault): kept apart from jose's verdicts on the token itself. */
class KeysUnavailable extends Error {
  constructor(cause: unknown) {
    super('the JWKS could not be fetched', { cause });
  }
}

const keySets = new WeakMap<client.Configuration, JWTVerifyGetKey>();

/**
 * The provider's keys, from its `jwks_uri`, fetched and cached by jose (once per provider's
 * configuration), through the provider's bounded fetch: a whole answer within PROVIDER_TIMEOUT, of
 * at most 1 MiB. A failure to fetch them is a {@link KeysUnavailable}; a key the set lacks is the
 * token's problem (jose fetches the set again first, at most every 30 seconds).
 */
function keysOf(config: client.Configuration, jwksUri: string): JWTVerifyGetKey {
  let keys = keySets.get(config);
  if (!keys) {
    const timeout = config.timeout ?? 10;
    const fetch = config[client.customFetch] ?? boundedFetch(timeout);
    const remote = createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: Math.ceil(timeout * 1000),
      [customFetch]: (url, options) => fetch(url, { ...options, headers: Object.fromEntries(options.headers), body: undefined }),
    });
    keys = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (err) {
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
        throw new KeysUnavailable(err);
      }
    };
    keySets.set(config, keys);
  }
  return keys;
}

/** What jose's verification threw, as portero's error: the token refused, or the provider's keys not to be had. */
function classifyVerifyError(err: unknown, provider: string, jwksUri: string): unknown {
  if (err instanceof KeysUnavailable) {
    const detail = { provider, url: jwksUri, reason: reasonOf(err.cause) };
    if (err.cause instanceof errors.JWKSTimeout) {
      return new PorteroError(PROVIDER_TIMEOUT, 'the provider did not answer its JWKS in time', { cause: err.cause, detail });
    }
    return new PorteroError(PROVIDER_UNAVAILABLE, 'cannot fetch the provider’s JWKS', { cause: err.cause, detail });
  }
  // jose's messages name the check and the claim, never the token's text.
  if (err instanceof errors.JOSEError) return refused(provider, err.message, err);
  return err;
}

/** A `sid`, `sub` or `jti` as the token must carry it, if at all: a non-empty string, not too long, without control characters. */
const isWellFormed = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= MAX_CLAIM_LENGTH && !/[\p{Cc}]/u.test(value);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Why these verified claims and header are no logout token for `clientId` (spec 2.4 and 2.6), or
 * undefined when they are one. `aud` is checked as for ID tokens (OpenID Connect Core 3.1.3.7, 4
 * and 5): several audiences need an `azp`, and an `azp` must name the client.
 */
function problemOf(payload: JWTPayload, typ: unknown, clientId: string): string | undefined {
  if (typ !== undefined && !(typeof typ === 'string' && LOGOUT_TOKEN_TYPES.has(typ.toLowerCase()))) {
    return 'the typ header is neither logout+jwt nor JWT';
  }
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp === undefined) return 'several audiences and no azp';
  if (payload.azp !== undefined && payload.azp !== clientId) return 'the azp claim names another party';
  if (!isWellFormed(payload.jti)) return 'no well-formed jti';
  if (!isObject(payload.events)) return 'no events claim';
  if (!isObject(payload.events[BACKCHANNEL_LOGOUT_EVENT])) return 'the events claim holds no back-channel logout event';
  // Forbidden, so that an ID token cannot pass for a logout token, nor a logout token for an ID token.
  if (Object.hasOwn(payload, 'nonce')) return 'a nonce claim is present';
  if (payload.sid === undefined && payload.sub === undefined) return 'neither sid nor sub';
  if (payload.sid !== undefined && !isWellFormed(payload.sid)) return 'the sid claim is not a well-formed string';
  if (payload.sub !== undefined && !isWellFormed(payload.sub)) return 'the sub claim is not a well-formed string';
  return undefined;
}

/** The algorithms the provider signs ID tokens with (its discovery's, else the default RS256), the asymmetric ones only. */
const algorithmsOf = (metadata: client.ServerMetadata) =>
  (metadata.id_token_signing_alg_values_supported ?? ['RS256']).filter((alg) => ASYMMETRIC_ALGORITHMS.has(alg));

/** The configuration and keys of a provider that can do back-channel logout; refuses one that cannot. */
async function logoutCapable(provider: ConfiguredProvider): Promise<{ config: client.Configuration; jwksUri: string }> {
  const unsupported = (reason: string) =>
    new PorteroError(BACKCHANNEL_UNSUPPORTED, `${provider.id} cannot do back-channel logout`, {
      detail: { provider: provider.id, reason },
    });
  // An OAuth 2.0 provider issues no ID tokens: nothing names its sessions or users, nor signs for it.
  if (provider.definition.protocol !== 'oidc') throw unsupported('an OAuth 2.0 provider issues no ID tokens');
  const config = await provider.client();
  const jwksUri = metadataOf(config).jwks_uri;
  if (jwksUri === undefined) throw unsupported('its discovery names no jwks_uri');
  return { config, jwksUri };
}

/**
 * Validates a back-channel logout token as OpenID Connect Back-Channel Logout 1.0 (2.6) asks, and
 * returns whom it signs out. The token must be a JWS (not encrypted) signed with an asymmetric
 * algorithm the provider uses for ID tokens, by a key of its `jwks_uri`; `iss` its issuer; `aud`
 * holding the client id (several audiences only with an `azp` naming it); `iat` present, not in the future and at most {@link LOGOUT_TOKEN_MAX_AGE}
 * seconds old; `exp` and `nbf`, if present, respected (CLOCK_SKEW allowed on each); `typ`, if
 * present, `logout+jwt` or `JWT`; `jti` present and never seen before (kept in the store
 * {@link logoutJtiTtl} seconds); `events` an object whose back-channel logout member is an object;
 * no `nonce`; a well-formed `sid`, `sub`, or both.
 *
 * Rejects with `invalid_logout_token` (its reason in `detail`, never the token),
 * `backchannel_unsupported` (an OAuth 2.0 provider, or no `jwks_uri`), `provider_unavailable`
 * or `provider_timeout` (discovery or the JWKS), or `store_unavailable`.
 *
 * @example
 * ```ts
 * const { sid, sub } = await validateLogoutToken(provider, form.get('logout_token') ?? '', { store, clock });
 * ```
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation
 */
export async function validateLogoutToken(
  provider: ConfiguredProvider,
  logoutToken: string,
  deps: LogoutTokenDeps,
): Promise<LogoutSubject> {
  if (logoutToken.length === 0 || logoutToken.length > MAX_LOGOUT_TOKEN_LENGTH) throw refused(provider.id, 'no logout token, or too long');
  if (logoutToken.split('.').length !== 3) throw refused(provider.id, 'not a compact JWS (an encrypted logout token is not supported)');
  const { config, jwksUri } = await logoutCapable(provider);
  const metadata = metadataOf(config);
  const { payload, protectedHeader } = await jwtVerify(logoutToken, keysOf(config, jwksUri), {
    algorithms: algorithmsOf(metadata),
    issuer: metadata.issuer,
    audience: provider.settings.clientId,
    requiredClaims: ['iat', 'jti'],
    maxTokenAge: LOGOUT_TOKEN_MAX_AGE,
    clockTolerance: provider.clockSkew,
    currentDate: new Date(deps.clock.now()),
  }).catch((err: unknown) => {
    throw classifyVerifyError(err, provider.id, jwksUri);
  });
  const problem = problemOf(payload, protectedHeader.typ, provider.settings.clientId);
  if (problem) throw refused(provider.id, problem);
  if (!(await deps.store.setIfAbsent(jtiKey(provider.id, payload.jti as string), '1', logoutJtiTtl(provider.clockSkew)))) {
    throw refused(provider.id, 'the jti was used before (a replay)');
  }
  return {
    ...(payload.sid !== undefined ? { sid: payload.sid as string } : {}),
    ...(payload.sub !== undefined ? { sub: payload.sub } : {}),
  };
}

/** Where a logout token's `jti` is kept once used: by its SHA-256, so no value of the provider's becomes a key as it is. */
const jtiKey = (providerId: string, jti: string) => storeKeys.logoutJti(providerId, createHash('sha256').update(jti).digest('base64url'));

/**
 * Forgets that a logout token `validateLogoutToken` accepted was used, when the sessions it names
 * could not be ended (the store failed): the provider's retry is then taken, not refused as a
 * replay, so the sign-out is not lost.
 */
export async function forgetLogoutToken(providerId: string, logoutToken: string, store: Pick<KeyValueStore, 'delete'>): Promise<void> {
  const { jti } = decodeJwt(logoutToken);
  if (typeof jti === 'string') await store.delete(jtiKey(providerId, jti));
}
