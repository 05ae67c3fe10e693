import { createHash, timingSafeEqual } from 'node:crypto';
import * as client from 'openid-client';
import type { Clock } from '../clock.js';
import type { FlowConfig } from '../config/types.js';
import { ACCESS_DENIED, FLOW_INVALID, ID_TOKEN_INVALID, PorteroError, PROVIDER_ERROR, UNKNOWN_PROVIDER } from '../errors.js';
import { type Profile, providerPrefix } from '../providers/index.js';
import type { KeyValueStore } from '../store/types.js';
import { checkAccess, groupsForToken } from './access.js';
import { EmailsFiles } from './emails-file.js';
import { type FlowRecord, FlowStore } from './flow-store.js';
import { classifyGrantError } from './grant-errors.js';
import { readProfile, type TokenResponse } from './profile.js';
import { type ConfiguredProvider, metadataOf } from './provider-client.js';
import { resolveReturnTo } from './return-to.js';
import { withFileEmails } from './session-access.js';

export interface LoginDeps {
  readonly flows: FlowStore;
  readonly providers: ReadonlyMap<string, ConfiguredProvider>;
  readonly clock: Clock;
  /** PUBLIC_URL (callbacks are `${publicUrl}/callback/<id>`, whatever Host header a request came with), FLOW_TTL, ALLOWED_REDIRECTS. */
  readonly config: FlowConfig;
  /** The providers' `_ALLOWED_EMAILS_FILE`s, read again when they change. */
  readonly emailsFiles: EmailsFiles;
}

export interface StartedLogin {
  /** 192 random bits binding this browser to the flow; the HTTP layer signs it into a cookie. */
  readonly flowId: string;
  readonly state: string;
  readonly authorizationUrl: URL;
  /** The provider will post its answer from its own site (form_post): the flow cookie must travel cross-site. */
  readonly crossSiteCallback: boolean;
}

export interface FinishedLogin {
  readonly provider: ConfiguredProvider;
  readonly profile: Profile;
  readonly returnTo: string;
  /** Names of `PROVIDER_<ID>_CLAIMS` the provider gave a value for that the token does not carry (src/flow/extra-claims.ts), for the log. */
  readonly leftOutClaims: readonly string[];
  /** What the session keeps of the provider's answer: to refresh it, and to end it there. */
  readonly grant: UpstreamGrant;
}

/** The provider's refresh token, ID token and session id (its ID token's `sid`), as far as it sent them. */
export interface UpstreamGrant {
  readonly refreshToken?: string;
  readonly idToken?: string;
  readonly sid?: string;
}

function upstreamGrant(tokens: TokenResponse): UpstreamGrant {
  const sid = tokens.claims()?.sid;
  return {
    ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
    ...(tokens.id_token ? { idToken: tokens.id_token } : {}),
    ...(typeof sid === 'string' && sid !== '' ? { sid } : {}),
  };
}

/** The login dependencies as the flow configuration describes them; `createApp` and tests build them so. */
export function loginDeps(
  config: FlowConfig,
  parts: {
    store: KeyValueStore;
    providers: ReadonlyMap<string, ConfiguredProvider>;
    clock: Clock;
    /** Told when an `_ALLOWED_EMAILS_FILE` cannot be read again (its last addresses stay). */
    onEmailsFileError?: (path: string, code: string) => void;
  },
): LoginDeps {
  const emailsFiles = new EmailsFiles(parts.onEmailsFileError);
  return { flows: new FlowStore(parts.store), providers: parts.providers, clock: parts.clock, config, emailsFiles };
}

export const callbackUrl = (publicUrl: string, providerId: string) => `${publicUrl}/callback/${providerId}`;

function findProvider(deps: Pick<LoginDeps, 'providers'>, providerId: string): ConfiguredProvider {
  const provider = deps.providers.get(providerId);
  if (!provider) throw new PorteroError(UNKNOWN_PROVIDER, `no provider named ${providerId}`, { detail: { provider: providerId } });
  return provider;
}

/** The parameters the flow sets itself; a preset's `authorizationParams` cannot replace them. */
const FLOW_PARAMETERS = new Set([
  'client_id',
  'redirect_uri',
  'response_type',
  'response_mode',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
]);

/** Whether the provider takes part in PKCE, and (OIDC) puts the login's nonce into its ID tokens: all do but those whose preset says (`unsupported`). */
const usesPkce = (provider: ConfiguredProvider) => !provider.definition.unsupported?.includes('pkce');
const usesNonce = (provider: ConfiguredProvider) =>
  provider.definition.protocol === 'oidc' && !provider.definition.unsupported?.includes('nonce');

/** The PKCE challenge (RFC 7636, S256): SHA-256 of the verifier, synchronous (WebCrypto's digest costs a round trip to the thread pool). */
const pkceChallenge = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/** The authorization request's parameters: the preset's own, then the flow's. */
function authorizationParameters(
  deps: LoginDeps,
  provider: ConfiguredProvider,
  record: FlowRecord,
  options: StartOptions,
): Record<string, string> {
  const { definition, settings } = provider;
  const own = Object.entries(definition.authorizationParams?.(settings) ?? {}).filter(([name]) => !FLOW_PARAMETERS.has(name));
  const pkce: Record<string, string> = usesPkce(provider)
    ? { code_challenge: pkceChallenge(record.codeVerifier), code_challenge_method: 'S256' }
    : {};
  return {
    ...Object.fromEntries(own),
    redirect_uri: callbackUrl(deps.config.publicUrl, provider.id),
    response_type: 'code',
    ...(provider.scopes.length > 0 ? { scope: provider.scopes.join(' ') } : {}),
    state: record.state,
    ...pkce,
    ...(record.nonce ? { nonce: record.nonce } : {}),
    ...(settings.responseMode === 'form_post' ? { response_mode: 'form_post' } : {}),
    // OpenID Connect's own parameter; an OAuth 2.0 provider (GitHub) may sign the user in silently all the same.
    ...(options.signInAgain && provider.definition.protocol === 'oidc' ? { prompt: 'login' } : {}),
  };
}

export interface StartOptions {
  /**
   * Ask the provider to authenticate the user anew (`prompt=login`), even with a session there: an
   * app asked portero's OpenID Provider for `prompt=login` or a `max_age` the session is older than.
   */
  readonly signInAgain?: boolean;
}

/** Validates the request, stores the flow and returns where to send the browser. */
export async function startLogin(
  deps: LoginDeps,
  providerId: string,
  returnTo: string | undefined,
  options: StartOptions = {},
): Promise<StartedLogin> {
  const provider = findProvider(deps, providerId);
  const target = resolveReturnTo(returnTo, deps.config);
  const config = await provider.client();
  const flow = FlowStore.create({ provider: provider.id, issuer: metadataOf(config).issuer, returnTo: target, nonce: usesNonce(provider) });
  const parameters = authorizationParameters(deps, provider, flow.record, options);
  await deps.flows.save(flow, deps.config.ttl);
  return {
    flowId: flow.flowId,
    state: flow.record.state,
    authorizationUrl: client.buildAuthorizationUrl(config, parameters),
    crossSiteCallback: provider.settings.responseMode === 'form_post',
  };
}

const sameText = (a: string, b: string) => {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
};

/** The parameters openid-client reads from a callback and refuses to see twice (oauth4webapi's validateAuthResponse). */
const SINGLE_PARAMETERS = ['state', 'code', 'iss', 'error', 'response', 'id_token', 'token'];
/** A JARM `response`, or an implicit or hybrid flow's tokens: none can come back from the code flow portero starts. */
const FOREIGN_PARAMETERS = ['response', 'id_token', 'token'];

/**
 * The callback must belong to this flow: same provider, same state, the issuer the user was sent
 * to (sent, when the provider says it sends it), and no error from the provider. Everything
 * openid-client would refuse in the callback is refused here first, as a callback not valid for
 * this login (400): it came from the browser, and the provider has not been asked anything yet.
 */
function checkCallback(record: FlowRecord, provider: ConfiguredProvider, issSupported: boolean, params: URLSearchParams): void {
  const refuse = (message: string, reason: string): never => {
    throw new PorteroError(FLOW_INVALID, message, { detail: { provider: provider.id, reason } });
  };
  if (record.provider !== provider.id) refuse('the login was started with another provider', 'provider mismatch');
  for (const name of SINGLE_PARAMETERS) {
    if (params.getAll(name).length > 1) refuse('the callback repeats a parameter', `duplicate ${name}`);
  }
  for (const name of FOREIGN_PARAMETERS) {
    if (params.has(name)) refuse('the callback carries a parameter of another response type', `unexpected ${name}`);
  }
  if (!sameText(params.get('state') ?? '', record.state)) refuse('the login state does not match', 'state mismatch');
  // RFC 9207: a callback naming another issuer than the one the user was sent to is a mix-up attack.
  const iss = params.get('iss');
  if (iss !== null && iss !== record.issuer) refuse('the callback names another issuer', 'iss mismatch');
  const error = params.get('error');
  if (error) {
    const oauthError = error.slice(0, 64);
    throw new PorteroError(error === 'access_denied' ? ACCESS_DENIED : PROVIDER_ERROR, `the provider answered ${oauthError}`, {
      detail: { provider: provider.id, oauth_error: oauthError },
    });
  }
  // A code without `iss` from a provider that says it always sends it may be a mix-up too (RFC 9207,
  // 2.4). An error without it is shown as the error it is: it grants nothing.
  if (!iss && issSupported) refuse('the callback does not name its issuer', 'iss missing');
  if (!params.get('code')) refuse('the callback carries no code', 'no code');
}

/**
 * An ID token issued later than now, beyond CLOCK_SKEW, is refused (OIDC Core 3.1.3.7, step 10:
 * `iat` can reject tokens issued too far away from the current time). openid-client checks `exp`
 * and `nbf` with the same tolerance but only the type of `iat`. By the clock openid-client checks
 * those by (the system's, `Date`), so all three agree; not the flow's injected one.
 */
function checkIssuedAt(claims: client.IDToken, provider: ConfiguredProvider): void {
  if (claims.iat > Date.now() / 1000 + provider.clockSkew) {
    throw new PorteroError(ID_TOKEN_INVALID, 'the provider sent an ID token issued in the future', {
      detail: { provider: provider.id, reason: `iat is more than CLOCK_SKEW (${provider.clockSkew} s) in the future` },
    });
  }
}

/**
 * The code exchange; the redirect URI is rebuilt from PUBLIC_URL, as sent in the authorization
 * request. Then the preset's own policy on the validated ID token.
 */
async function exchangeCode(
  deps: LoginDeps,
  provider: ConfiguredProvider,
  config: client.Configuration,
  record: FlowRecord,
  params: URLSearchParams,
): Promise<TokenResponse> {
  const currentUrl = new URL(callbackUrl(deps.config.publicUrl, provider.id));
  for (const [name, value] of params) currentUrl.searchParams.append(name, value);
  const oidc = provider.definition.protocol === 'oidc';
  try {
    // Without a nonce in the flow (`unsupported`), an ID token that carries one is refused too.
    const tokens = await client.authorizationCodeGrant(config, currentUrl, {
      ...(usesPkce(provider) ? { pkceCodeVerifier: record.codeVerifier } : {}),
      expectedState: record.state,
      ...(oidc ? { expectedNonce: record.nonce, idTokenExpected: true } : {}),
    });
    const claims = tokens.claims();
    if (claims) {
      checkIssuedAt(claims, provider);
      provider.definition.checkIdToken?.({ ...claims }, provider.settings);
    }
    return tokens;
  } catch (cause) {
    throw classifyGrantError(cause, provider.id);
  }
}

/**
 * Finishes a login: consumes the flow exactly once, checks state, exchanges the code with the PKCE
 * verifier, validates the ID token (OIDC) and builds the user's profile, which the access
 * rules must let in.
 */
export async function finishLogin(deps: LoginDeps, providerId: string, flowId: string, params: URLSearchParams): Promise<FinishedLogin> {
  const provider = findProvider(deps, providerId);
  const config = await provider.client();
  const metadata = metadataOf(config);
  const record = await deps.flows.consume(flowId, { provider: provider.id, issuer: metadata.issuer });
  checkCallback(record, provider, metadata.authorization_response_iss_parameter_supported === true, params);
  // A record of version 1 names its provider and issuer; one of version 2 opens only for these.
  if (metadata.issuer !== record.issuer) {
    throw new PorteroError(FLOW_INVALID, 'the provider configuration changed during the login', {
      detail: { provider: provider.id, reason: 'issuer changed' },
    });
  }
  const tokens = await exchangeCode(deps, provider, config, record, params);
  const { profile, leftOutClaims } = await readProfile(provider, config, tokens, params);
  const rules = await withFileEmails(provider.settings.access ?? {}, deps.emailsFiles);
  checkAccess(profile, [
    { prefix: '', rules: deps.config.access },
    { prefix: providerPrefix(provider.id), rules },
  ]);
  // The token carries the groups the provider's rule names, or with `_CLAIMS=groups` all that fit (see groupsForToken).
  const { groups: _all, ...person } = profile;
  const { groups, leftOut } = groupsForToken(profile, rules, provider.settings.claims);
  return {
    provider,
    profile: groups.length > 0 ? { ...person, groups } : person,
    returnTo: record.returnTo,
    leftOutClaims: leftOut ? ['groups', ...leftOutClaims] : leftOutClaims,
    grant: upstreamGrant(tokens),
  };
}
