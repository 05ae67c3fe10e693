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
  /** `PROVIDER_<ID>_CLAIMS`: more claims of the provider's to copy into the token, in the operator's order. */
  readonly claims?: readonly string[];
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
  readonly displayName: string;
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
  /** The preset's own settings that say who may sign in (`HOSTED_DOMAIN`, `ALLOWED_ORGS`), named when production refuses it. */
  readonly accessVariables?: readonly string[];
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
   * goes cross-site (SameSite=None; Secure), which needs an https PUBLIC_URL. `query` by default.
   */
  readonly responseMode?: 'query' | 'form_post';
  /**
   * How the client secret travels to the token endpoint when the operator does not say
   * (`PROVIDER_<ID>_TOKEN_AUTH_METHOD`): some providers take it only in the form body (LinkedIn,
   * Twitch). Default: HTTP Basic, unless discovery lists only the form body; always the body without discovery.
   */
  readonly tokenAuthMethod?: 'client_secret_basic' | 'client_secret_post';
  /**
   * How the client authenticates at the token endpoint, when it is more than a secret. openid-client calls the function for each
   * request, so a preset may sign a fresh client assertion each time (Apple's JWT client secret).
   * Default: HTTP Basic (or the form body when discovery lists only that; always the body without discovery).
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
