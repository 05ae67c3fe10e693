import { createHash, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { http, HttpResponse, type HttpHandler } from 'msw';
import { CodeBook } from './oauth-server.js';

export interface MockUser {
  readonly sub: string;
  /** The ID token's claims beyond the registered ones; userinfo's too, unless `userinfo` says otherwise. */
  readonly claims?: Record<string, unknown>;
  /** What userinfo answers beside `sub`, when it differs from the ID token (LinkedIn's `locale` object). */
  readonly userinfo?: Record<string, unknown>;
  /** In userinfo only, beside the others, as many providers (oidc-provider among them) give profile claims. */
  readonly userinfoClaims?: Record<string, unknown>;
}

/** Where a provider's endpoints are; `<issuer>/authorize`, `/token`, `/userinfo` and `/jwks` unless said. */
export interface MockEndpoints {
  readonly authorization: string;
  readonly token: string;
  readonly userinfo: string;
  readonly jwks: string;
}

type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';
type RecordedClientAuth = ClientAuthMethod | 'private_key_jwt';

/** How a real provider departs from the mock's defaults, each as that provider documents it (or is reported to). */
export interface MockOidcOptions {
  /** The `issuer` its discovery document names: its own by default (Entra ID's multi-tenant endpoints name a template). */
  readonly discoveryIssuer?: string;
  /** Whether it sends `iss` with its callbacks (RFC 9207) and says so in discovery; Entra ID does not. */
  readonly sendsIss?: boolean;
  readonly endpoints?: Partial<MockEndpoints>;
  /** More of its discovery document, as it publishes it; a member set to undefined is left out. */
  readonly discovery?: Record<string, unknown>;
  /** The client authentications its token endpoint takes (both by default); another is `invalid_client`. */
  readonly clientAuth?: readonly ClientAuthMethod[];
  /** Whether it does PKCE (by default); without, a token request carrying a `code_verifier` is refused. */
  readonly pkce?: boolean;
  /** Whether its ID tokens carry the authorization request's `nonce` (by default). */
  readonly echoesNonce?: boolean;
  /**
   * Claims it sends only when the `claims` authorization parameter asks for them (OIDC Core 5.5),
   * in the ID token or userinfo as asked; every claim is sent unasked by default.
   */
  readonly claimsOnRequest?: readonly string[];
  /**
   * Claims it sends only when the authorization request's `scope` holds the scope named, in the
   * ID token and userinfo alike (Okta's `groups` claim with the `groups` scope).
   */
  readonly claimsWithScope?: Readonly<Record<string, string>>;
  /** Whether its ID tokens carry `at_hash`, the access token's hash (OpenID Connect Core 3.1.3.6), as Google's do. */
  readonly atHash?: boolean;
  /** What its callbacks carry beside `code`, `state` and `iss` (Google's `scope` and `authuser`, Keycloak's `session_state`). */
  readonly callbackParams?: Readonly<Record<string, string>>;
  /** Its successful token response, as it words it (Twitch's `scope` array). */
  readonly tokenResponse?: (body: Record<string, unknown>) => Record<string, unknown>;
  /** Its userinfo response, as it words it (Slack's `ok`). */
  readonly userinfoResponse?: (body: Record<string, unknown>) => Record<string, unknown>;
  /**
   * Whether its token responses carry a refresh token: none by default; `fixed` keeps one valid
   * until the user is disabled; `rotating` answers each refresh with a new one and ends the old.
   */
  readonly refreshTokens?: 'fixed' | 'rotating';
}

export interface TokenRequestRecord {
  /** How the client authenticated: HTTP Basic, the form body, or a signed assertion. */
  clientAuth?: RecordedClientAuth;
  /** A `private_key_jwt` assertion's protected header and claims, as verified with the client's registered key. */
  assertion?: { readonly header: Record<string, unknown>; readonly claims: JWTPayload };
  /** The request's form body, as sent. */
  readonly form: URLSearchParams;
  /** Whether it carried an `Authorization` header. */
  readonly authorizationHeader: boolean;
  readonly redirectUri: string | null;
  readonly codeVerifier: string | null;
  readonly clientId: string | null;
}

/**
 * An OpenID provider at the network edge, served by msw: discovery, JWKS, token and userinfo.
 * ID tokens are signed with jose inside the handler, so openid-client's real validation runs.
 * `authorize()` plays the user at the provider's login page and returns the callback parameters.
 */
export class MockOidcProvider {
  readonly issuer: string;
  readonly clientId = 'portero-test-client';
  readonly clientSecret = 'portero-test-client-secret';
  /** Changes the ID token the token endpoint returns (e.g. wrong audience, expired). */
  idTokenOverride: ((claims: JWTPayload) => JWTPayload) | undefined;
  /** Makes the token endpoint fail with this status and body. */
  tokenError: { status: number; body: Record<string, unknown> } | undefined;
  /** What discovery says the token endpoint accepts; left out of discovery when undefined. */
  tokenEndpointAuthMethods: string[] | undefined = ['client_secret_basic', 'client_secret_post'];
  /** What discovery says client assertions may be signed with; unsaid when undefined. */
  tokenEndpointAuthSigningAlgs: string[] | undefined;
  /** What discovery says the authorization endpoint can answer with; unsaid when undefined. */
  responseModes: string[] | undefined;
  /** The client's registered public key: `private_key_jwt` assertions are verified with it (RFC 7523 3). */
  clientKey: KeyObject | undefined;
  /** Checks a client secret the client made itself (Apple's ES256 JWT), instead of comparing it with `clientSecret`. */
  verifyClientSecret: ((secret: string) => Promise<boolean>) | undefined;
  /** Signs ID tokens with a key that is not in the JWKS. */
  signWithForeignKey = false;
  /** Makes the ID token itself, from its claims, instead of signing it with the provider's key (`alg: none`, HS256, …). */
  signIdToken: ((claims: JWTPayload) => Promise<string> | string) | undefined;
  /** Makes userinfo refuse every access token with a `WWW-Authenticate` challenge (RFC 6750). */
  userinfoChallenge = false;
  readonly tokenRequests: TokenRequestRecord[] = [];
  /** How many requests userinfo has answered. */
  userinfoRequests = 0;
  /** How many `refresh_token` grants its token endpoint has answered, refused ones included. */
  refreshRequests = 0;
  /** How long its token endpoint takes to answer a refresh, in ms. */
  refreshDelayMs = 0;
  /** The refresh tokens it issued: whose, and whether still good. */
  readonly #refreshTokens = new Map<string, { readonly user: MockUser; valid: boolean }>();
  readonly #book = new CodeBook<MockUser>();
  #key!: { privateKey: CryptoKey; jwk: JWK };
  #foreignKey!: CryptoKey;

  /**
   * The `issuer` its discovery document names: its own by default. Entra ID's multi-tenant
   * endpoints (`/common/v2.0`) name a template, `https://login.microsoftonline.com/{tenantid}/v2.0`.
   */
  readonly discoveryIssuer: string;
  /** Whether it sends `iss` with its callbacks (RFC 9207) and says so in discovery; Entra ID does not. */
  readonly sendsIss: boolean;
  /** The issuer without a trailing slash (Auth0's and authentik's have one), under which its endpoints are. */
  readonly base: string;
  readonly endpoints: MockEndpoints;
  /** Whether it does PKCE: a client must then leave the challenge and the verifier out. */
  readonly pkce: boolean;
  /** Whether its ID tokens carry the nonce: a client must otherwise send none, and expect none. */
  readonly echoesNonce: boolean;
  readonly #options: MockOidcOptions;

  constructor(issuer = 'https://idp.example.test', options: MockOidcOptions = {}) {
    this.issuer = issuer;
    this.discoveryIssuer = options.discoveryIssuer ?? issuer;
    this.sendsIss = options.sendsIss ?? true;
    this.pkce = options.pkce ?? true;
    this.echoesNonce = options.echoesNonce ?? true;
    this.base = issuer.replace(/\/+$/, '');
    this.endpoints = {
      authorization: `${this.base}/authorize`,
      token: `${this.base}/token`,
      userinfo: `${this.base}/userinfo`,
      jwks: `${this.base}/jwks`,
      ...options.endpoints,
    };
    this.#options = options;
  }

  async init(): Promise<this> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    this.#key = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: 'mock-key', alg: 'RS256', use: 'sig' } };
    this.#foreignKey = (await generateKeyPair('RS256')).privateKey;
    return this;
  }

  /** Settings variables, as an operator would write them for this provider. */
  env(id = 'corp'): Record<string, string> {
    const prefix = `PROVIDER_${id.toUpperCase().replaceAll('-', '_')}_`;
    return {
      [`${prefix}CLIENT_ID`]: this.clientId,
      [`${prefix}CLIENT_SECRET`]: this.clientSecret,
      [`${prefix}TYPE`]: 'oidc',
      [`${prefix}ISSUER`]: this.issuer,
    };
  }

  /** The user signs in at the provider and is sent back: the parameters of the callback. */
  authorize(authorizationUrl: string | URL, user: MockUser): URLSearchParams {
    const url = new URL(authorizationUrl);
    if (url.origin + url.pathname !== this.endpoints.authorization) throw new Error(`not this provider's authorization endpoint: ${url}`);
    const params = this.#book.issue(url, this.#scoped(url, this.#asked(url, user)));
    if (this.sendsIss) params.set('iss', this.issuer);
    for (const [name, value] of Object.entries(this.#options.callbackParams ?? {})) params.set(name, value);
    return params;
  }

  /** Whose access token a request carries: for an API beside the provider that takes its tokens (Microsoft Graph). */
  userOf(request: Request): MockUser | undefined {
    return this.#book.bearerOf(request);
  }

  /** The user's claims as a provider with `claimsOnRequest` sends them: those of these only where the `claims` parameter asks. */
  #asked(url: URL, user: MockUser): MockUser {
    const onRequest = this.#options.claimsOnRequest;
    if (!onRequest) return user;
    const asked = JSON.parse(url.searchParams.get('claims') ?? '{}') as Record<string, Record<string, unknown> | undefined>;
    const keep = (claims: Record<string, unknown> | undefined, requested: Record<string, unknown> | undefined) =>
      Object.fromEntries(
        Object.entries(claims ?? {}).filter(([name]) => !onRequest.includes(name) || Object.hasOwn(requested ?? {}, name)),
      );
    return { sub: user.sub, claims: keep(user.claims, asked.id_token), userinfo: keep(user.userinfo ?? user.claims, asked.userinfo) };
  }

  /** The user's claims as a provider with `claimsWithScope` sends them: those only where the request's scope holds theirs. */
  #scoped(url: URL, user: MockUser): MockUser {
    const withScope = this.#options.claimsWithScope;
    if (!withScope) return user;
    const scopes = (url.searchParams.get('scope') ?? '').split(' ');
    const keep = (claims: Record<string, unknown> | undefined) =>
      claims && Object.fromEntries(Object.entries(claims).filter(([name]) => !withScope[name] || scopes.includes(withScope[name])));
    return { sub: user.sub, claims: keep(user.claims), userinfo: keep(user.userinfo), userinfoClaims: keep(user.userinfoClaims) };
  }

  /**
   * A back-channel logout token (OpenID Connect Back-Channel Logout 1.0, 2.4) as this provider signs
   * one: `iss`, `aud` (the client), `iat` now, `exp` in 2 minutes, a fresh `jti`, the logout event
   * and `sid` `op-session-1`, with `claims` over them (a claim set to undefined is left out), under
   * `header` (`alg: RS256`, its `kid`, `typ: logout+jwt` unless said), signed with its key, or the
   * foreign one that is not in its JWKS.
   */
  async logoutToken(
    claims: Record<string, unknown> = {},
    options: { header?: Record<string, unknown>; foreignKey?: boolean } = {},
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload = Object.fromEntries(
      Object.entries({
        iss: this.issuer,
        aud: this.clientId,
        iat: now,
        exp: now + 120,
        jti: randomUUID(),
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
        sid: 'op-session-1',
        ...claims,
      }).filter(([, value]) => value !== undefined),
    );
    const header = { alg: 'RS256', kid: 'mock-key', typ: 'logout+jwt', ...options.header } as JWTHeaderParameters;
    return new SignJWT(payload).setProtectedHeader(header).sign(options.foreignKey ? this.#foreignKey : this.#key.privateKey);
  }

  /** The user refuses consent at the provider. */
  deny(authorizationUrl: string | URL): URLSearchParams {
    const url = new URL(authorizationUrl);
    return new URLSearchParams({
      error: 'access_denied',
      error_description: 'The user said no',
      state: url.searchParams.get('state') ?? '',
      iss: this.issuer,
    });
  }

  handlers(): HttpHandler[] {
    const { authorization, token, userinfo, jwks } = this.endpoints;
    return [
      http.get(`${this.base}/.well-known/openid-configuration`, () =>
        HttpResponse.json({
          issuer: this.discoveryIssuer,
          authorization_endpoint: authorization,
          token_endpoint: token,
          userinfo_endpoint: userinfo,
          jwks_uri: jwks,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: this.tokenEndpointAuthMethods,
          authorization_response_iss_parameter_supported: this.sendsIss,
          ...(this.tokenEndpointAuthSigningAlgs
            ? { token_endpoint_auth_signing_alg_values_supported: this.tokenEndpointAuthSigningAlgs }
            : {}),
          ...(this.responseModes ? { response_modes_supported: this.responseModes } : {}),
          ...this.#options.discovery,
        }),
      ),
      http.get(jwks, () => HttpResponse.json({ keys: [this.#key.jwk] })),
      http.post(token, async ({ request }) => this.#token(new URLSearchParams(await request.text()), request.headers.get('authorization'))),
      http.get(userinfo, ({ request }) => {
        const user = this.#book.bearerOf(request);
        this.userinfoRequests++;
        if (this.userinfoChallenge) {
          return new HttpResponse(null, {
            status: 401,
            headers: { 'www-authenticate': 'Bearer error="invalid_token", error_description="token revoked"' },
          });
        }
        if (!user) return HttpResponse.json({ error: 'invalid_token' }, { status: 401 });
        const body = { sub: user.sub, ...(user.userinfo ?? user.claims), ...user.userinfoClaims };
        return HttpResponse.json(this.#options.userinfoResponse?.(body) ?? body);
      }),
    ];
  }

  async #token(form: URLSearchParams, authorization: string | null) {
    const basic = authorization?.startsWith('Basic ') ?? false;
    this.tokenRequests.push({
      redirectUri: form.get('redirect_uri'),
      codeVerifier: form.get('code_verifier'),
      clientId: form.get('client_id'),
      form,
      authorizationHeader: authorization !== null,
    });
    if (this.tokenError) return HttpResponse.json(this.tokenError.body, { status: this.tokenError.status });
    if (form.get('grant_type') === 'refresh_token') return this.#refresh(form, authorization);
    if (!this.pkce && form.has('code_verifier')) {
      return HttpResponse.json({ error: 'invalid_client', error_description: 'Client authentication failed' }, { status: 401 });
    }
    const grant = this.#book.redeem(form, { pkce: this.pkce });
    if (!grant)
      return HttpResponse.json(
        { error: 'invalid_grant', error_description: 'unknown or used code, or redirect_uri/PKCE mismatch' },
        { status: 400 },
      );
    if (form.has('client_assertion')) {
      return (await this.#verifyAssertion(form)) ? this.#tokensFor(grant) : HttpResponse.json({ error: 'invalid_client' }, { status: 401 });
    }
    const [basicId, basicSecret] = Buffer.from(authorization?.replace(/^Basic /, '') ?? '', 'base64')
      .toString()
      .split(':')
      .map(decodeURIComponent);
    const method: ClientAuthMethod = basic ? 'client_secret_basic' : 'client_secret_post';
    this.tokenRequests.at(-1)!.clientAuth = method;
    const [clientId, clientSecret] = basic ? [basicId, basicSecret] : [form.get('client_id'), form.get('client_secret')];
    const accepted = this.#options.clientAuth ?? ['client_secret_basic', 'client_secret_post'];
    const secretValid = this.verifyClientSecret ? await this.verifyClientSecret(clientSecret ?? '') : clientSecret === this.clientSecret;
    if (!accepted.includes(method) || clientId !== this.clientId || !secretValid) {
      return HttpResponse.json({ error: 'invalid_client' }, { status: 401 });
    }
    return this.#tokensFor(grant);
  }

  /** Ends every refresh token of user `sub`, as an administrator disabling the user does: the next refresh is `invalid_grant`. */
  disableUser(sub: string): void {
    for (const entry of this.#refreshTokens.values()) if (entry.user.sub === sub) entry.valid = false;
  }

  /** Whether `token` is one of its refresh tokens, in the clear (a test looking for it where it must not be). */
  isRefreshToken(token: string): boolean {
    return this.#refreshTokens.has(token);
  }

  /** Every refresh token it issued, for a test to look for where none may be. */
  get refreshTokensIssued(): string[] {
    return [...this.#refreshTokens.keys()];
  }

  #issueRefreshToken(user: MockUser): string {
    const token = `rt-${randomBytes(18).toString('base64url')}`;
    this.#refreshTokens.set(token, { user, valid: true });
    return token;
  }

  /** A `refresh_token` grant: the client's secret by HTTP Basic or the form, then a token it issued and has not ended. */
  async #refresh(form: URLSearchParams, authorization: string | null) {
    this.refreshRequests++;
    if (this.refreshDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.refreshDelayMs));
    const [basicId, basicSecret] = Buffer.from(authorization?.replace(/^Basic /, '') ?? '', 'base64')
      .toString()
      .split(':')
      .map(decodeURIComponent);
    const [clientId, secret] = authorization ? [basicId, basicSecret] : [form.get('client_id'), form.get('client_secret')];
    if (clientId !== this.clientId || secret !== this.clientSecret) return HttpResponse.json({ error: 'invalid_client' }, { status: 401 });
    const entry = this.#refreshTokens.get(form.get('refresh_token') ?? '');
    if (!entry?.valid) return HttpResponse.json({ error: 'invalid_grant', error_description: 'refresh token revoked' }, { status: 400 });
    const rotated = this.#options.refreshTokens === 'rotating' ? this.#issueRefreshToken(entry.user) : undefined;
    if (rotated) entry.valid = false;
    const body = {
      access_token: this.#book.accessTokenFor(entry.user),
      token_type: 'Bearer',
      expires_in: 300,
      ...(rotated ? { refresh_token: rotated } : {}),
    };
    return HttpResponse.json(body);
  }

  /** A `private_key_jwt` assertion: its type, signature by the registered key, `iss` = `sub` = the client, `aud` this provider, not expired. */
  async #verifyAssertion(form: URLSearchParams): Promise<boolean> {
    const record = this.tokenRequests.at(-1)!;
    record.clientAuth = 'private_key_jwt';
    if (!this.clientKey || form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return false;
    try {
      const { payload, protectedHeader } = await jwtVerify(form.get('client_assertion') ?? '', this.clientKey, {
        issuer: this.clientId,
        subject: this.clientId,
        audience: [this.issuer, this.endpoints.token],
      });
      record.assertion = { header: protectedHeader as Record<string, unknown>, claims: payload };
      return typeof payload.jti === 'string' && typeof payload.exp === 'number';
    } catch {
      return false;
    }
  }

  async #tokensFor(grant: NonNullable<ReturnType<CodeBook<MockUser>['redeem']>>) {
    const accessToken = this.#book.accessTokenFor(grant.data);
    const now = Math.floor(Date.now() / 1000);
    let claims: JWTPayload = {
      iss: this.issuer,
      aud: this.clientId,
      sub: grant.data.sub,
      iat: now,
      exp: now + 300,
      ...(grant.nonce && this.echoesNonce ? { nonce: grant.nonce } : {}),
      // The left half of the access token's SHA-256, base64url (OpenID Connect Core 3.1.3.6, for RS256).
      ...(this.#options.atHash ? { at_hash: createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url') } : {}),
      ...grant.data.claims,
    };
    if (this.idTokenOverride) claims = this.idTokenOverride(claims);
    const idToken = this.signIdToken
      ? await this.signIdToken(claims)
      : await new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256', kid: 'mock-key' })
          .sign(this.signWithForeignKey ? this.#foreignKey : this.#key.privateKey);
    const body = {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 300,
      id_token: idToken,
      ...(this.#options.refreshTokens ? { refresh_token: this.#issueRefreshToken(grant.data) } : {}),
    };
    return HttpResponse.json(this.#options.tokenResponse?.(body) ?? body);
  }
}
