import { createHash, randomBytes } from 'node:crypto';
import { type HttpHandler, HttpResponse, http, type JsonBodyType } from 'msw';
import { expect } from 'vitest';

export interface CodeGrant<T> {
  readonly data: T;
  readonly clientId: string | null;
  readonly nonce: string | null;
}

/**
 * What every mock authorization server in the tests does alike: remember the codes it hands out
 * with their PKCE challenge and redirect URI, redeem each at most once (checking both), and
 * remember which access token belongs to whom.
 */
export class CodeBook<T> {
  readonly #codes = new Map<string, CodeGrant<T> & { challenge: string | null; redirectUri: string | null }>();
  readonly #accessTokens = new Map<string, T>();

  /** The user approved at `authorizationUrl`: a fresh code, and the callback parameters carrying it. */
  issue(authorizationUrl: URL, data: T): URLSearchParams {
    const code = randomBytes(16).toString('base64url');
    const params = authorizationUrl.searchParams;
    this.#codes.set(code, {
      data,
      clientId: params.get('client_id'),
      nonce: params.get('nonce'),
      challenge: params.get('code_challenge'),
      redirectUri: params.get('redirect_uri'),
    });
    return new URLSearchParams({ code, state: params.get('state') ?? '' });
  }

  /**
   * The grant behind a token request's code, once, if its redirect URI and PKCE verifier match; a
   * server without PKCE (`pkce: false`) checks no verifier.
   */
  redeem(form: URLSearchParams, options: { readonly pkce?: boolean } = {}): CodeGrant<T> | undefined {
    const code = form.get('code') ?? '';
    const grant = this.#codes.get(code);
    this.#codes.delete(code);
    if (!grant || form.get('redirect_uri') !== grant.redirectUri) return undefined;
    if (options.pkce === false) return grant;
    const verifier = form.get('code_verifier') ?? '';
    if (grant.challenge !== createHash('sha256').update(verifier).digest('base64url')) return undefined;
    return grant;
  }

  accessTokenFor(data: T): string {
    const token = randomBytes(16).toString('base64url');
    this.#accessTokens.set(token, data);
    return token;
  }

  /** Whose access token the request's `Authorization: Bearer` carries, if any. */
  bearerOf(request: Request): T | undefined {
    return this.#accessTokens.get(request.headers.get('authorization')?.replace(/^Bearer /i, '') ?? '');
  }
}

/** How a token request authenticated its client (RFC 6749 2.3.1). */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export interface TokenRequest {
  readonly form: URLSearchParams;
  /** HTTP Basic, the form body's `client_secret`, or neither. */
  readonly method: ClientAuthMethod;
  readonly clientId: string | null;
  readonly clientSecret: string | null;
}

/** A token request's client credentials: HTTP Basic (each part form-urlencoded first, RFC 6749 2.3.1), else the form body. */
export function readTokenRequest(authorization: string | null, form: URLSearchParams): TokenRequest {
  if (authorization?.startsWith('Basic ')) {
    const [id = '', secret = ''] = Buffer.from(authorization.slice('Basic '.length), 'base64').toString().split(':');
    const decode = (part: string) => decodeURIComponent(part.replaceAll('+', ' '));
    return { form, method: 'client_secret_basic', clientId: decode(id), clientSecret: decode(secret) };
  }
  const clientSecret = form.get('client_secret');
  return { form, method: clientSecret === null ? 'none' : 'client_secret_post', clientId: form.get('client_id'), clientSecret };
}

export interface TokenEndpointOptions {
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The ways the provider documents a client authenticating; any other is refused as `invalid_client`. */
  readonly methods: readonly ClientAuthMethod[];
  /** The provider's answer to a redeemed code, carrying `accessToken`. */
  answer(accessToken: string): JsonBodyType;
  /** The provider's answer to a client it does not accept, or a code it does not know. */
  refusal(error: 'invalid_client' | 'invalid_grant'): { readonly status: number; readonly body: JsonBodyType };
}

/**
 * A plain OAuth 2.0 token endpoint at the network edge, as the social providers' mocks share it:
 * codes from a {@link CodeBook}, redeemed once with their PKCE verifier and redirect URI, the
 * client authenticated only the ways the provider documents, each request kept for the test.
 */
export class MockTokenEndpoint {
  readonly requests: TokenRequest[] = [];
  /** From now on every request is answered with this, whatever it carries (a provider refusing codes). */
  failure: { status: number; body: JsonBodyType } | undefined;
  readonly #book = new CodeBook<true>();

  constructor(readonly options: TokenEndpointOptions) {}

  /** The user approves at `authorizationUrl`, which must be the provider's `endpoint`: the callback's parameters. */
  approve(authorizationUrl: URL, endpoint: string): URLSearchParams {
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe(endpoint);
    return this.#book.issue(authorizationUrl, true);
  }

  /** Whether the request carries, as `Authorization: Bearer`, an access token this endpoint issued. */
  authorized(request: Request): boolean {
    return this.#book.bearerOf(request) !== undefined;
  }

  handler(): HttpHandler {
    return http.post(this.options.url, async ({ request }) => {
      const token = readTokenRequest(request.headers.get('authorization'), new URLSearchParams(await request.text()));
      this.requests.push(token);
      if (this.failure) return HttpResponse.json(this.failure.body, { status: this.failure.status });
      const { clientId, clientSecret, methods } = this.options;
      if (!methods.includes(token.method) || token.clientId !== clientId || token.clientSecret !== clientSecret)
        return this.#refuse('invalid_client');
      if (!this.#book.redeem(token.form)) return this.#refuse('invalid_grant');
      return HttpResponse.json(this.options.answer(this.#book.accessTokenFor(true)));
    });
  }

  #refuse(error: 'invalid_client' | 'invalid_grant') {
    const { status, body } = this.options.refusal(error);
    return HttpResponse.json(body, { status });
  }
}
