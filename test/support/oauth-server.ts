import { createHash, randomBytes } from 'node:crypto';

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
