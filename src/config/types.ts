export type JwtAlg = 'ES256' | 'EdDSA' | 'RS256';
export const JWT_ALGS: readonly JwtAlg[] = ['ES256', 'EdDSA', 'RS256'];

/** One configured provider, as the operator wrote it in `PROVIDER_<ID>_*` variables. */
export interface ProviderSettings {
  /** From the variable name: `PROVIDER_MY_CORP_CLIENT_ID` gives `my-corp`. */
  readonly id: string;
  /** A preset in `providers/`. */
  readonly type: string;
  readonly clientId: string;
  readonly clientSecret?: string;
  readonly issuer?: string;
  readonly scopes?: readonly string[];
  readonly authorizationUrl?: string;
  readonly tokenUrl?: string;
  readonly userinfoUrl?: string;
  /** Shown on the sign-in page; the preset's name by default. */
  readonly displayName?: string;
  /** For `oauth2` providers: the userinfo field that holds the stable user id. */
  readonly subjectClaim?: string;
}

export interface Config {
  readonly mode: 'development' | 'production';
  /** No trailing slash: `https://auth.example.com` or `https://example.com/auth`. */
  readonly publicUrl: string;
  readonly port: number;
  readonly host: string;
  readonly redisUrl?: string;
  readonly cookieSecret: string;
  /** True when no COOKIE_SECRET was given and a random one was made (development only). */
  readonly cookieSecretGenerated: boolean;
  readonly cookieDomain?: string;
  readonly tokenCookieName: string;
  readonly jwtKeysFile?: string;
  readonly jwtAlg: JwtAlg;
  readonly jwtIssuer: string;
  readonly jwtAudience?: string;
  /** Seconds. */
  readonly jwtTtl: number;
  /** Seconds. */
  readonly flowTtl: number;
  /** Origins (`https://app.example.com`) or subdomain patterns (`https://*.example.com`). */
  readonly allowedRedirects: readonly string[];
  readonly providers: readonly ProviderSettings[];
  /** Development mode without any provider: run the built-in development IdP as `dev`. */
  readonly devIdp: boolean;
  /** Port of the built-in development IdP on 127.0.0.1; 0 picks a free one. */
  readonly devIdpPort: number;
  readonly logLevel: string;
  /** Names this process in every log line (`instance`), to tell replicas apart; the host name by default. */
  readonly instanceName: string;
  /** Whether cookies get `Secure` and the `__Host-` prefix: PUBLIC_URL is https. */
  readonly secureCookies: boolean;
}
