import * as client from 'openid-client';
import type { JsonObject, Profile } from '../providers/index.js';
import { profileRefused } from '../providers/index.js';
import { classifyProfileError } from './grant-errors.js';
import type { ConfiguredProvider } from './provider-client.js';

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

/**
 * Asks the provider's preset for the profile, giving it the validated ID token, the callback
 * parameters it asked for, and fetches authorised with the access token.
 */
export async function readProfile(
  provider: ConfiguredProvider,
  config: client.Configuration,
  tokens: TokenResponse,
  params: URLSearchParams,
): Promise<Profile> {
  const idTokenClaims = tokens.claims();
  const accessToken = tokens.access_token;
  const userinfoEndpoint = config.serverMetadata().userinfo_endpoint;
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
  const userinfo = async (): Promise<JsonObject | undefined> => {
    if (!userinfoEndpoint) return undefined;
    if (idTokenClaims) return { ...(await client.fetchUserInfo(config, accessToken, idTokenClaims.sub)) };
    const body = await fetchJson(userinfoEndpoint);
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw profileRefused(`${userinfoEndpoint} did not answer a JSON object`);
    return body as JsonObject;
  };
  try {
    return await provider.definition.profile({
      settings: provider.settings,
      ...(idTokenClaims ? { idTokenClaims: { ...idTokenClaims } } : {}),
      callbackParams: wantedParams(provider, params),
      userinfo,
      fetchJson,
    });
  } catch (cause) {
    throw classifyProfileError(cause, provider.id);
  }
}
