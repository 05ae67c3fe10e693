import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { http, HttpResponse, type HttpHandler } from 'msw';
import { CodeBook } from './oauth-server.js';

export interface MockUser {
  readonly sub: string;
  /** In the ID token and in userinfo. */
  readonly claims?: Record<string, unknown>;
  /** In userinfo only, as many providers (oidc-provider among them) give profile claims. */
  readonly userinfoClaims?: Record<string, unknown>;
}

export interface TokenRequestRecord {
  /** How the client authenticated: HTTP Basic or the form body. */
  clientAuth?: 'client_secret_basic' | 'client_secret_post';
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
  /** What discovery says the token endpoint accepts. */
  tokenEndpointAuthMethods = ['client_secret_basic', 'client_secret_post'];
  /** Signs ID tokens with a key that is not in the JWKS. */
  signWithForeignKey = false;
  /** Makes the ID token itself, from its claims, instead of signing it with the provider's key (`alg: none`, HS256, …). */
  signIdToken: ((claims: JWTPayload) => Promise<string> | string) | undefined;
  /** Makes userinfo refuse every access token with a `WWW-Authenticate` challenge (RFC 6750). */
  userinfoChallenge = false;
  readonly tokenRequests: TokenRequestRecord[] = [];
  /** How many requests userinfo has answered. */
  userinfoRequests = 0;
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

  constructor(issuer = 'https://idp.example.test', options: { discoveryIssuer?: string; sendsIss?: boolean } = {}) {
    this.issuer = issuer;
    this.discoveryIssuer = options.discoveryIssuer ?? issuer;
    this.sendsIss = options.sendsIss ?? true;
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
    if (url.origin + url.pathname !== `${this.issuer}/authorize`) throw new Error(`not this provider's authorization endpoint: ${url}`);
    const params = this.#book.issue(url, user);
    if (this.sendsIss) params.set('iss', this.issuer);
    return params;
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
    const issuer = this.issuer;
    return [
      http.get(`${issuer}/.well-known/openid-configuration`, () =>
        HttpResponse.json({
          issuer: this.discoveryIssuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          userinfo_endpoint: `${issuer}/userinfo`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: this.tokenEndpointAuthMethods,
          authorization_response_iss_parameter_supported: this.sendsIss,
        }),
      ),
      http.get(`${issuer}/jwks`, () => HttpResponse.json({ keys: [this.#key.jwk] })),
      http.post(`${issuer}/token`, async ({ request }) =>
        this.#token(new URLSearchParams(await request.text()), request.headers.get('authorization')),
      ),
      http.get(`${issuer}/userinfo`, ({ request }) => {
        const user = this.#book.bearerOf(request);
        this.userinfoRequests++;
        if (this.userinfoChallenge) {
          return new HttpResponse(null, {
            status: 401,
            headers: { 'www-authenticate': 'Bearer error="invalid_token", error_description="token revoked"' },
          });
        }
        if (!user) return HttpResponse.json({ error: 'invalid_token' }, { status: 401 });
        return HttpResponse.json({ sub: user.sub, ...user.claims, ...user.userinfoClaims });
      }),
    ];
  }

  async #token(form: URLSearchParams, authorization: string | null) {
    this.tokenRequests.push({
      redirectUri: form.get('redirect_uri'),
      codeVerifier: form.get('code_verifier'),
      clientId: form.get('client_id'),
    });
    if (this.tokenError) return HttpResponse.json(this.tokenError.body, { status: this.tokenError.status });
    const grant = this.#book.redeem(form);
    if (!grant)
      return HttpResponse.json(
        { error: 'invalid_grant', error_description: 'unknown or used code, or redirect_uri/PKCE mismatch' },
        { status: 400 },
      );
    const [basicId, basicSecret] = Buffer.from(authorization?.replace(/^Basic /, '') ?? '', 'base64')
      .toString()
      .split(':')
      .map(decodeURIComponent);
    this.tokenRequests.at(-1)!.clientAuth = authorization?.startsWith('Basic ') ? 'client_secret_basic' : 'client_secret_post';
    const [clientId, clientSecret] = authorization?.startsWith('Basic ')
      ? [basicId, basicSecret]
      : [form.get('client_id'), form.get('client_secret')];
    if (clientId !== this.clientId || clientSecret !== this.clientSecret) {
      return HttpResponse.json({ error: 'invalid_client' }, { status: 401 });
    }
    const accessToken = this.#book.accessTokenFor(grant.data);
    const now = Math.floor(Date.now() / 1000);
    let claims: JWTPayload = {
      iss: this.issuer,
      aud: this.clientId,
      sub: grant.data.sub,
      iat: now,
      exp: now + 300,
      ...(grant.nonce ? { nonce: grant.nonce } : {}),
      ...grant.data.claims,
    };
    if (this.idTokenOverride) claims = this.idTokenOverride(claims);
    const idToken = this.signIdToken
      ? await this.signIdToken(claims)
      : await new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256', kid: 'mock-key' })
          .sign(this.signWithForeignKey ? this.#foreignKey : this.#key.privateKey);
    return HttpResponse.json({ access_token: accessToken, token_type: 'Bearer', expires_in: 300, id_token: idToken });
  }
}
