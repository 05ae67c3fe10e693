import * as client from 'openid-client';
import type { JsonObject, Profile } from '../providers/index.js';
import { profileRefused } from '../providers/index.js';
import { holds, selectExtraClaims } from './extra-claims.js';
import { classifyProfileError } from './grant-errors.js';
import { type ConfiguredProvider, metadataOf } from './provider-client.js';

export type TokenResponse = Awaited<ReturnType<typeof client.authorizationCodeGrant>>;

/** The callback parameters the preset asked for (`callbackParams`), those present. */
function wantedParams(provider: ConfiguredProvider, params: URLSearchParams): Record<string, string> {
  const wanted: Record<string, string> = {};
  for (const name of provider.definition.callbackParams ?? []) {
    const value = params.get(name);
    if (value !== null) wanted[name] = value;
  }
  return wanted;
}

/** The user's profile, and the names of `PROVIDER_<ID>_CLAIMS` the provider gave but the token will not carry. */
export interface ProfileWithClaims {
  readonly profile: Profile;
  readonly leftOutClaims: readonly string[];
}

/**
 * Asks the provider's preset for the profile, giving it the validated ID token, the callback
 * parameters it asked for, and fetches authorised with the access token; then adds the claims of
 * `PROVIDER_<ID>_CLAIMS`.
 */

export async function readProfile(
  provider: ConfiguredProvider,
  config: client.Configuration,
  tokens: TokenResponse,
  params: URLSearchParams,
): Promise<ProfileWithClaims> {
  const idTokenClaims = tokens.claims();
  const accessToken = tokens.access_token;
  const userinfoEndpoint = metadataOf(config).userinfo_endpoint;
  const fetchJson = async (url: string, options: { readonly optional?: boolean } = {}): Promise<unknown> => {
    const headers = new Headers({ accept: 'application/json' });
    const response = await client.fetchProtectedResource(config, accessToken, new URL(url), 'GET', undefined, headers);
    if (options.optional && (response.status === 403 || response.status === 404)) return undefined;
    if (!response.ok) throw profileRefused(`GET ${url} answered ${response.status}`);
    // Not response.json(): its SyntaxError quotes the body, which must not reach the log.
    const text = await response.text();
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw profileRefused(`GET ${url} did not answer JSON`);
    }
  };
  const fetchUserinfo = async (): Promise<JsonObject | undefined> => {
    if (!userinfoEndpoint) return undefined;
    if (idTokenClaims) return { ...(await client.fetchUserInfo(config, accessToken, idTokenClaims.sub)) };
    const body = await fetchJson(userinfoEndpoint);
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw profileRefused(`${userinfoEndpoint} did not answer a JSON object`);
    return body as JsonObject;
  };
  // Once per login: the preset and the extra claims read the same answer.
  let answered: Promise<JsonObject | undefined> | undefined;
  const userinfo = () => {
    answered ??= fetchUserinfo();
    return answered;
  };
  try {
    const profile = await provider.definition.profile({
      settings: provider.settings,
      ...(idTokenClaims ? { idTokenClaims: { ...idTokenClaims } } : {}),
      callbackParams: wantedParams(provider, params),
      userinfo,
      fetchJson,
    });
    return await withExtraClaims(provider, profile, idTokenClaims ? { ...idTokenClaims } : undefined, userinfo);
  } catch (cause) {
    throw classifyProfileError(cause, provider.id);
  }
}

/**
 * The profile with the claims of `PROVIDER_<ID>_CLAIMS` that fit (src/flow/extra-claims.ts), and
 * the names left out. Userinfo is asked only for a name the preset and the ID token do not hold.
 */
async function withExtraClaims(
  provider: ConfiguredProvider,
  profile: Profile,
  idTokenClaims: JsonObject | undefined,
  userinfo: () => Promise<JsonObject | undefined>,
): Promise<ProfileWithClaims> {
  const { extraClaims: offered, ...person } = profile;
  // `groups` is the flow's to carry (groupsForToken), never copied as the provider spells it.
  const names = (provider.settings.claims ?? []).filter((name) => name !== 'groups');
  if (names.length === 0) return { profile: person, leftOutClaims: [] };
  const known = [offered, idTokenClaims];
  const missing = names.some((name) => !known.some((source) => holds(source, name)));
  const { claims, leftOut } = selectExtraClaims(names, missing ? [...known, await userinfo()] : known);
  return { profile: Object.keys(claims).length > 0 ? { ...person, extraClaims: claims } : person, leftOutClaims: leftOut };
}
