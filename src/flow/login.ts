import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as client from 'openid-client';
import type { JsonObject, Profile } from '../../providers/index.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import { PorteroError } from '../errors.js';
import { storeKeys, type Store } from '../store/types.js';
import { classifyGrantError, profileError } from './grant-errors.js';
import type { ConfiguredProvider } from './providers.js';
import { resolveReturnTo, type ReturnToPolicy } from './return-to.js';
import { flowStoreId, seal, unseal } from './sealed.js';

export interface LoginDeps {
  readonly store: Store;
  readonly providers: ReadonlyMap<string, ConfiguredProvider>;
  readonly clock: Clock;
  readonly returnTo: ReturnToPolicy;
  /** PUBLIC_URL: callbacks are `${publicUrl}/callback/<id>`, whatever Host header a request came with. */
  readonly publicUrl: string;
  /** Seconds a started login may take. */
  readonly flowTtl: number;
}

/** What is kept between the redirect to the provider and its callback. */
interface FlowRecord {
  readonly provider: string;
  /** The issuer the authorization request went to; a callback for another issuer is refused. */
  readonly issuer: string;
  readonly state: string;
  readonly nonce?: string;
  readonly codeVerifier: string;
  readonly returnTo: string;
  readonly createdAt: number;
}

export interface StartedLogin {
  /** 256 random bits binding this browser to the flow; the HTTP layer signs it into a cookie. */
  readonly flowId: string;
  readonly state: string;
  readonly authorizationUrl: URL;
}

export interface FinishedLogin {
  readonly provider: ConfiguredProvider;
  readonly profile: Profile;
  readonly returnTo: string;
}

/** The login dependencies as the configuration describes them; `createApp` and tests build them so. */
export function loginDeps(
  config: Pick<Config, 'publicUrl' | 'flowTtl' | 'allowedRedirects'>,
  parts: Pick<LoginDeps, 'store' | 'providers' | 'clock'>,
): LoginDeps {
  return {
    ...parts,
    publicUrl: config.publicUrl,
    flowTtl: config.flowTtl,
    returnTo: { publicUrl: config.publicUrl, allowedRedirects: config.allowedRedirects },
  };
}

export const callbackUrl = (publicUrl: string, providerId: string) => `${publicUrl}/callback/${providerId}`;

function findProvider(deps: Pick<LoginDeps, 'providers'>, providerId: string): ConfiguredProvider {
  const provider = deps.providers.get(providerId);
  if (!provider) throw new PorteroError('unknown_provider', `no provider named ${providerId}`, { detail: { provider: providerId } });
  return provider;
}

/** Validates the request, stores the flow and returns where to send the browser. */
export async function startLogin(deps: LoginDeps, providerId: string, returnTo: string | undefined): Promise<StartedLogin> {
  const provider = findProvider(deps, providerId);
  const target = resolveReturnTo(returnTo, deps.returnTo);
  const config = await provider.client();
  const oidc = provider.preset.protocol === 'oidc';
  const record: FlowRecord = {
    provider: provider.id,
    issuer: config.serverMetadata().issuer,
    state: client.randomState(),
    ...(oidc ? { nonce: client.randomNonce() } : {}),
    codeVerifier: client.randomPKCECodeVerifier(),
    returnTo: target,
    createdAt: deps.clock.now(),
  };
  const parameters: Record<string, string> = {
    redirect_uri: callbackUrl(deps.publicUrl, provider.id),
    response_type: 'code',
    scope: provider.scopes.join(' '),
    state: record.state,
    code_challenge: await client.calculatePKCECodeChallenge(record.codeVerifier),
    code_challenge_method: 'S256',
    ...(record.nonce ? { nonce: record.nonce } : {}),
  };
  if (!parameters.scope) delete parameters.scope;
  const flowId = randomBytes(32).toString('base64url');
  await deps.store.set(storeKeys.flow(flowStoreId(flowId)), seal(flowId, JSON.stringify(record)), deps.flowTtl);
  return { flowId, state: record.state, authorizationUrl: client.buildAuthorizationUrl(config, parameters) };
}

const sameText = (a: string, b: string) => {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
};

/** Takes the flow out of the store: it can be used once, by the browser that holds its id. */
async function consumeFlow(deps: LoginDeps, flowId: string): Promise<FlowRecord> {
  const sealed = await deps.store.getAndDelete(storeKeys.flow(flowStoreId(flowId)));
  const plaintext = sealed === undefined ? undefined : unseal(flowId, sealed);
  if (plaintext === undefined) {
    throw new PorteroError('flow_invalid', 'the login expired or was already used', {
      detail: { reason: sealed === undefined ? 'flow not found (expired or replayed)' : 'flow record does not open' },
    });
  }
  return JSON.parse(plaintext) as FlowRecord;
}

/** The callback must belong to this flow: same provider, same state, and no error from the provider. */
function checkCallback(record: FlowRecord, provider: ConfiguredProvider, params: URLSearchParams): void {
  const refuse = (message: string, reason: string): never => {
    throw new PorteroError('flow_invalid', message, { detail: { provider: provider.id, reason } });
  };
  if (record.provider !== provider.id) refuse('the login was started with another provider', 'provider mismatch');
  for (const name of ['state', 'code', 'iss', 'error']) {
    if (params.getAll(name).length > 1) refuse('the callback repeats a parameter', `duplicate ${name}`);
  }
  if (!sameText(params.get('state') ?? '', record.state)) refuse('the login state does not match', 'state mismatch');
  // RFC 9207: a callback naming another issuer than the one the user was sent to is a mix-up attack.
  const iss = params.get('iss');
  if (iss !== null && iss !== record.issuer) refuse('the callback names another issuer', 'iss mismatch');
  const error = params.get('error');
  if (error) {
    const oauthError = error.slice(0, 64);
    throw new PorteroError(error === 'access_denied' ? 'access_denied' : 'provider_error', `the provider answered ${oauthError}`, {
      detail: { provider: provider.id, oauth_error: oauthError },
    });
  }
  if (!params.get('code')) refuse('the callback carries no code', 'no code');
}

type TokenResponse = Awaited<ReturnType<typeof client.authorizationCodeGrant>>;

/** The code exchange; the redirect URI is rebuilt from PUBLIC_URL, as sent in the authorization request. */
async function exchangeCode(
  deps: LoginDeps,
  provider: ConfiguredProvider,
  config: client.Configuration,
  record: FlowRecord,
  params: URLSearchParams,
): Promise<TokenResponse> {
  const currentUrl = new URL(callbackUrl(deps.publicUrl, provider.id));
  for (const [name, value] of params) currentUrl.searchParams.append(name, value);
  try {
    return await client.authorizationCodeGrant(config, currentUrl, {
      pkceCodeVerifier: record.codeVerifier,
      expectedState: record.state,
      ...(provider.preset.protocol === 'oidc' ? { expectedNonce: record.nonce, idTokenExpected: true } : {}),
    });
  } catch (cause) {
    throw classifyGrantError(cause, provider.id);
  }
}

/** Asks the provider's preset for the profile, giving it the validated ID token and authorised fetches. */
async function readProfile(provider: ConfiguredProvider, config: client.Configuration, tokens: TokenResponse): Promise<Profile> {
  const idTokenClaims = tokens.claims();
  const accessToken = tokens.access_token;
  const userinfoEndpoint = config.serverMetadata().userinfo_endpoint;
  const fetchJson = async (url: string, options: { optional?: boolean } = {}): Promise<unknown> => {
    const headers = new Headers({ accept: 'application/json' });
    const response = await client.fetchProtectedResource(config, accessToken, new URL(url), 'GET', undefined, headers);
    if (options.optional && (response.status === 403 || response.status === 404)) return undefined;
    if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
    return response.json();
  };
  const userinfo = async (): Promise<JsonObject | undefined> => {
    if (!userinfoEndpoint) return undefined;
    if (idTokenClaims) return { ...(await client.fetchUserInfo(config, accessToken, idTokenClaims.sub)) };
    const body = await fetchJson(userinfoEndpoint);
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new TypeError(`${userinfoEndpoint} did not answer a JSON object`);
    return body as JsonObject;
  };
  try {
    return await provider.preset.profile({
      settings: provider.settings,
      ...(idTokenClaims ? { idTokenClaims: { ...idTokenClaims } } : {}),
      userinfo,
      fetchJson,
    });
  } catch (cause) {
    throw profileError(cause, provider.id);
  }
}

/**
 * Finishes a login: consumes the flow exactly once, checks state, exchanges the code with the PKCE
 * verifier, validates the ID token (OIDC) and builds the user's profile.
 */
export async function finishLogin(deps: LoginDeps, providerId: string, flowId: string, params: URLSearchParams): Promise<FinishedLogin> {
  const provider = findProvider(deps, providerId);
  const record = await consumeFlow(deps, flowId);
  checkCallback(record, provider, params);
  const config = await provider.client();
  if (config.serverMetadata().issuer !== record.issuer) {
    throw new PorteroError('flow_invalid', 'the provider configuration changed during the login', {
      detail: { provider: provider.id, reason: 'issuer changed' },
    });
  }
  const tokens = await exchangeCode(deps, provider, config, record, params);
  return { provider, profile: await readProfile(provider, config, tokens), returnTo: record.returnTo };
}
