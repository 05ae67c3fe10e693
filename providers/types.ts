import type { ProviderSettings } from '../src/config/types.js';

/** What portero learns about a user from a provider; becomes the claims of the issued JWT. */
export interface Profile {
  /** The provider's stable id for the user; the JWT's `sub` is `<provider id>:<subject>`. */
  readonly subject: string;
  readonly email?: string;
  readonly emailVerified?: boolean;
  readonly name?: string;
  readonly preferredUsername?: string;
  readonly picture?: string;
}

export type JsonObject = Record<string, unknown>;

/** What a preset may read, after the code exchange succeeded, to build the profile. */
export interface ProfileSource {
  readonly settings: ProviderSettings;
  /** Claims of the validated ID token (issuer, audience, expiry and nonce checked); OIDC only. */
  readonly idTokenClaims?: JsonObject;
  /**
   * The userinfo response, or undefined without an endpoint. OIDC: the userinfo endpoint, its `sub`
   * checked against the ID token's. OAuth 2.0: a plain GET of `USERINFO_URL` (GitHub's `/user`
   * has a numeric `id` and no `sub`).
   */
  userinfo(): Promise<JsonObject | undefined>;
  /**
   * GET another JSON resource of the provider with the access token (e.g. GitHub's `/user/emails`).
   * With `optional`, a 403 or 404 (a scope or permission the operator did not grant) gives
   * undefined instead of failing the sign-in.
   */
  fetchJson(url: string, options?: { optional?: boolean }): Promise<unknown>;
}

export interface Endpoints {
  readonly authorization: string;
  readonly token: string;
  readonly userinfo?: string;
}

/**
 * A provider kind. Each file in `providers/` exports one plain object that `satisfies Provider`;
 * the operator picks it with `PROVIDER_<ID>_TYPE` (or by naming the provider like the preset).
 */
export interface Provider {
  readonly type: string;
  readonly displayName: string;
  /** `oidc`: discovery from the issuer, ID token validated. `oauth2`: explicit endpoints, profile from an API. */
  readonly protocol: 'oidc' | 'oauth2';
  /** Issuer used for discovery when `PROVIDER_<ID>_ISSUER` is not given. */
  readonly issuer?: string;
  /** Endpoints used when `PROVIDER_<ID>_*_URL` are not given. */
  readonly endpoints?: Endpoints;
  readonly scopes: readonly string[];
  /** Confidential-client providers refuse to start without `PROVIDER_<ID>_CLIENT_SECRET`. */
  readonly requiresClientSecret: boolean;
  profile(source: ProfileSource): Promise<Profile>;
}
