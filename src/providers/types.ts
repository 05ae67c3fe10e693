import type { KeyObject } from 'node:crypto';
import type { ClientAuth } from 'openid-client';

/** What portero learns about a user from a provider; becomes the claims of the issued JWT. */
export interface Profile {
  /** The provider's stable id for the user; the JWT's `sub` is `<provider id>:<subject>`. */
  readonly subject: string;
  readonly email?: string;
  readonly emailVerified?: boolean;
  readonly name?: string;
  readonly preferredUsername?: string;
  readonly picture?: string;
  /** The groups the provider says the user is in (`_GROUPS_CLAIM`), as it spells them. */
  readonly groups?: readonly string[];
  /**
   * The claims of `PROVIDER_<ID>_CLAIMS`, copied into the token under their own names. A preset may
   * offer here what its ID token and userinfo do not hold (GitHub's `orgs`); the flow adds the rest
   * from those and keeps what fits (src/flow/extra-claims.ts).
   */
  readonly extraClaims?: Readonly<Record<string, ClaimValue>>;
}

/** What an extra claim may be: JSON a downstream app reads as it is, never an object portero cannot bound. */
export type ClaimValue = string | number | boolean | readonly string[];

export type JsonObject = Record<string, unknown>;

/**
 * Who may sign in, as configured: a verified email of one of `emailDomains` (the whole domain,
 * compared exactly), one of `emails`. Each is normalised (lower case, IDNA). Rules combine by AND.
 */
export interface AccessRules {
  readonly emailDomains?: readonly string[];
  readonly emails?: readonly string[];
  /** `_ALLOWED_EMAILS_FILE`: more of `emails`, one per line, read again whenever the file changes. */
  readonly emailsFile?: string;
  /** `_ALLOWED_GROUPS`: the user must be in one of them (compared case-insensitively). */
  readonly groups?: readonly string[];
}

/** How a client authenticates at a provider's token endpoint (OpenID Connect Core 9). */
export type TokenAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** How the provider answers the authorization request: a redirect with a query, or a form it posts (OAuth 2.0 Form Post Response Mode). */
export type ResponseMode = 'query' | 'form_post';

/** The JWS algorithms a client key may sign with, by its type (and curve). */
export type ClientKeyAlgorithm = 'RS256' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

/** `PROVIDER_<ID>_PRIVATE_KEY_FILE`, read and checked at start, with `_KEY_ID`. */
export interface ClientKey {
  /** The file it was read from, for messages (never its content). */
  readonly file: string;
  readonly key: KeyObject;
  readonly alg: ClientKeyAlgorithm;
  /** `PROVIDER_<ID>_KEY_ID`: the `kid` the provider knows the key by. */
  readonly id?: string;
}

/** What every provider has, from `PROVIDER_<ID>_CLIENT_ID`, `_CLIENT_SECRET`, `_TYPE`, `_SCOPES` and `_NAME`. */
export interface CommonSettings {
  /** From the variable name: `PROVIDER_MY_CORP_CLIENT_ID` gives `my-corp`. */
  readonly id: string;
  /** The preset's type: `PROVIDER_<ID>_TYPE`, or the id when a preset of that name exists. */
  readonly type: string;
  readonly clientId: string;
  readonly clientSecret?: string;
  /** `PROVIDER_<ID>_SCOPES`; the preset's own when unset. */
  readonly scopes?: readonly string[];
  /** Shown on the sign-in page; the preset's name by default. */
  readonly displayName?: string;
  /** `PROVIDER_<ID>_ALLOWED_EMAIL_DOMAINS`, `_ALLOWED_EMAILS`: who of its users may sign in. */
  readonly access?: AccessRules;
  /** `PROVIDER_<ID>_ALLOW_ALL=true`: a provider of the general public without any rule, on purpose. */
  readonly allowAll?: boolean;
  /** `PROVIDER_<ID>_GROUPS_CLAIM`: the ID token or userinfo claim listing the user's groups; `groups` by default. */
  readonly groupsClaim?: string;
  /** `PROVIDER_<ID>_TOKEN_AUTH_METHOD`, when the operator says; chosen from the credentials and the provider's metadata otherwise. */
  readonly tokenAuthMethod?: TokenAuthMethod;
  /** `PROVIDER_<ID>_PRIVATE_KEY_FILE`: a key for `private_key_jwt` (Apple: the key its client secret is made with). */
  readonly privateKey?: ClientKey;
  /** `PROVIDER_<ID>_RESPONSE_MODE`, else the preset's, else `query`. */
  readonly responseMode: ResponseMode;
  /** `PROVIDER_<ID>_CLAIMS`: more claims of the provider's to copy into the token, in the operator's order. */
  readonly claims?: readonly string[];
  /**
   * `PROVIDER_<ID>_REFRESH_INTERVAL`: seconds after which renewing a token first refreshes at the
   * provider (when it gave a refresh token), so a user it disabled loses access; 0 (`off`): never.
   */
  readonly refreshInterval?: number;
  /** `PROVIDER_<ID>_LOGOUT`: `provider` continues a sign-out at its end_session_endpoint, when it has one; `local` does not. */
  readonly logout?: 'provider' | 'local';
}

/** One configured provider: the common settings and those its preset reads (`S`). */
export type ProviderSettings<S extends object = object> = CommonSettings & Readonly<S>;

export interface Endpoints {
  readonly authorization: string;
  readonly token: string;
  readonly userinfo?: string;
}

/** Where a provider's endpoints are: found by OpenID Connect discovery from its issuer, or named one by one. */
export type ProviderServer =
  | { readonly kind: 'discovery'; readonly issuer: string }
  | { readonly kind: 'endpoints'; readonly endpoints: Endpoints };

/**
 * What a preset's `readSettings` reads its variables through. Problems are recorded, not thrown, so
 * that an operator sees every problem of every provider at once.
 */
export interface SettingsReader {
  /** `PROVIDER_<ID>_`, for messages. */
  readonly prefix: string;
  /** `PROVIDER_<ID>_<suffix>`, trimmed; undefined when unset or empty. Only the preset's declared `variables` are set. */
  value(suffix: string): string | undefined;
  /**
   * `value(suffix)`, else `fallback` (the preset's own), checked either way to be an https URL (or
   * plain http on a loopback host). `required`, without a fallback, says why it must be set.
   */
  url(suffix: string, options?: { readonly required?: string | boolean; readonly fallback?: string }): string | undefined;
  problem(message: string): void;
}

/** What a preset may read, after the code exchange succeeded, to build the profile. */
export interface ProfileSource<S extends object = object> {
  readonly settings: ProviderSettings<S>;
  /** Claims of the validated ID token (signature, issuer, audience, expiry, nonce and the preset's `checkIdToken`); OIDC only. */
  readonly idTokenClaims?: JsonObject;
  /** The callback parameters the preset named in `callbackParams` (Apple's `user`), those present. */
  readonly callbackParams: Readonly<Record<string, string>>;
  /**
   * The userinfo response, or undefined without an endpoint. OIDC: the userinfo endpoint, its `sub`
   * checked against the ID token's. OAuth 2.0: a plain GET of the userinfo URL (GitHub's `/user`
   * has a numeric `id` and no `sub`).
   */
  userinfo(): Promise<JsonObject | undefined>;
  /**
   * GET another JSON resource of the provider with the access token (e.g. GitHub's `/user/emails`).
   * With `optional`, a 403 or 404 (a scope or permission the operator did not grant) gives
   * undefined instead of failing the sign-in.
   */
  fetchJson(url: string, options?: { readonly optional?: boolean }): Promise<unknown>;
}

/**
 * A provider type: what the operator names in `PROVIDER_<ID>_TYPE`. Each file in `src/providers/`
 * exports one, made with {@link defineProvider}. The flow (`src/flow`) runs every preset the same
 * way; a preset's quirks are its hooks, each optional but `profile`.
 *
 * Methods, not function-valued properties, so that a preset with settings of its own fits the
 * registry's `ProviderDefinition` (method parameters are compared bivariantly).
 */
export interface ProviderDefinition<S extends object = object> {
  readonly type: string;
  /** The name on the sign-in page, unless `PROVIDER_<ID>_NAME` says otherwise. */
  readonly displayName: string;
  /**
   * The name on the sign-in page without `PROVIDER_<ID>_NAME`, when the settings say more than
   * `displayName` (a generic provider names its issuer's host: "OpenID Connect" tells a person nothing).
   */
  displayNameFor?(settings: ProviderSettings<S>): string;
  /** `oidc`: an ID token is expected and validated (with `nonce`). `oauth2`: no ID token; the profile comes from an API. */
  readonly protocol: 'oidc' | 'oauth2';
  /** Requested when `PROVIDER_<ID>_SCOPES` is not set. */
  readonly scopes: readonly string[];
  /** Confidential-client providers refuse to start without `PROVIDER_<ID>_CLIENT_SECRET`. */
  readonly requiresClientSecret: boolean;
  /** The suffixes of `PROVIDER_<ID>_*` this preset reads beyond the common ones; any other is reported. */
  readonly variables: readonly string[];
  /** The preset's own settings from its variables, each checked (problems go to `reader.problem`). */
  readSettings(reader: SettingsReader, common: CommonSettings): S;
  /**
   * Whether anyone on earth can have an account (google.com, github.com): such a provider refuses
   * to start in production without an access rule or `_ALLOW_ALL=true`. A corporate IdP's users
   * are the company's, so it lets every one of them in unless a rule says otherwise.
   */
  publicUsers?(settings: ProviderSettings<S>): boolean;
  /**
   * The provider never says an address is verified (Facebook), so no email rule can let one of its
   * users in: start-up refuses such a rule rather than a deployment where nobody can sign in.
   */
  readonly unverifiedEmails?: boolean;
  /** The preset's own settings that say who may sign in (`HOSTED_DOMAIN`, `ALLOWED_ORGS`), named when production refuses it. */
  readonly accessVariables?: readonly string[];
  /** `accessVariables` when they depend on the settings (Entra's `consumers`: no groups to name). */
  accessVariablesFor?(settings: ProviderSettings<S>): readonly string[];
  /**
   * The default scopes for these settings, when they depend on them (GitHub asks `read:org` only
   * with `_ALLOWED_ORGS`); `scopes` otherwise. `PROVIDER_<ID>_SCOPES` replaces either.
   */
  scopesFor?(settings: ProviderSettings<S>): readonly string[];
  /** Where the provider's endpoints are, from its settings. */
  server(settings: ProviderSettings<S>): ProviderServer;

  /**
   * Extra parameters for the authorization request (Google's `hd`, a `prompt`). They cannot replace
   * the ones the flow sets itself (`state`, `nonce`, PKCE, `redirect_uri`, `response_type`, `scope`, `response_mode`).
   */
  authorizationParams?(settings: ProviderSettings<S>): Readonly<Record<string, string>>;
  /**
   * `form_post` when the provider posts its answer to the callback (Apple): the flow cookie then
   * goes cross-site (SameSite=None; Secure), which needs an https PUBLIC_URL. `query` by default;
   * an operator may ask any provider for `form_post` (`PROVIDER_<ID>_RESPONSE_MODE`), never a
   * `form_post` preset for `query`.
   */
  readonly responseMode?: ResponseMode;
  /**
   * How the client secret travels to the token endpoint when the operator does not say
   * (`PROVIDER_<ID>_TOKEN_AUTH_METHOD`): some providers take it only in the form body (LinkedIn,
   * Twitch). Default: HTTP Basic, unless discovery lists only the form body; always the body without discovery.
   */
  readonly tokenAuthMethod?: 'client_secret_basic' | 'client_secret_post';
  /**
   * Mends a successful token response before openid-client reads it, for a provider whose answer
   * departs from RFC 6749 5.1 in a way that changes nothing portero relies on (Twitch sends
   * `scope` as a JSON array, which openid-client refuses). Given its JSON object; what it returns
   * is read instead, and validated as any answer is (the ID token above all).
   */
  conformTokenResponse?(body: JsonObject): JsonObject;
  /**
   * The code flow's defences against an injected code the provider cannot take part in, left out
   * of its requests: LinkedIn answers a PKCE `code_verifier` with an error and puts no `nonce` into
   * its ID tokens. Without both, only `state`, the flow cookie and the flow consumed once tie a
   * code to the browser that started the login (RFC 9700 4.5): a stolen code could be redeemed in
   * a login of the thief's. For providers that leave no choice only; none by default.
   */
  readonly unsupported?: readonly ('pkce' | 'nonce')[];
  /**
   * How the client authenticates at the token endpoint, when the preset makes its credentials
   * itself (Apple's client secret, a fresh ES256 JWT made from `_PRIVATE_KEY_FILE`). openid-client
   * calls the function for each request, and awaits it. Such a preset reads its own credentials:
   * `_TOKEN_AUTH_METHOD` does not apply, and the one-credential rule is its own.
   */
  clientAuthentication?(settings: ProviderSettings<S>): ClientAuth;
  /**
   * A policy on the validated ID token beyond OpenID Connect's own checks (an Entra tenant check);
   * throws `idTokenRefused(...)` to refuse the sign-in.
   */
  checkIdToken?(claims: JsonObject, settings: ProviderSettings<S>): void;
  /** Callback parameters the profile needs beyond `code` and `state` (Apple's first-login `user`). */
  readonly callbackParams?: readonly string[];
  /** The user's profile, from the ID token, userinfo and whatever else the provider offers; throws `profileRefused(...)` on bad data. */
  profile(source: ProfileSource<S>): Promise<Profile>;
}

/**
 * Declares a provider type. Freezes it, and checks at once what the type system cannot (a
 * preset author's mistake is a TypeError, as soon as the module loads).
 */
export function defineProvider<S extends object>(definition: ProviderDefinition<S>): ProviderDefinition<S> {
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(definition.type))
    throw new TypeError(`provider type ${JSON.stringify(definition.type)} must be lower-case letters and digits`);
  for (const suffix of definition.variables) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(suffix))
      throw new TypeError(`${definition.type}: variable suffix ${JSON.stringify(suffix)} must be upper-case`);
  }
  return Object.freeze({ ...definition });
}
