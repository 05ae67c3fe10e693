import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, getSignedCookie, setCookie, setSignedCookie } from 'hono/cookie';
import type { Config } from '../config/types.js';

/**
 * Flow cookies are named after their login's state (`portero_flow_<hash of state>`), so two logins
 * in two tabs of one browser keep two cookies and both complete; a fixed name would let the second
 * overwrite the first ("state mismatch" in gateways that do so). Each carries the flow id signed
 * with COOKIE_SECRET, lives FLOW_TTL seconds, and is `__Host-` prefixed and Secure under https.
 */
export class CookieJar {
  readonly #config: Config;

  constructor(config: Config) {
    this.#config = config;
  }

  get #prefix() {
    return this.#config.secureCookies ? ('host' as const) : undefined;
  }

  static flowCookieName(state: string): string {
    return `portero_flow_${createHash('sha256').update(state).digest('base64url').slice(0, 16)}`;
  }

  setFlow(c: Context, state: string, flowId: string): Promise<void> {
    return setSignedCookie(c, CookieJar.flowCookieName(state), flowId, this.#config.cookieSecret, {
      httpOnly: true,
      sameSite: 'Lax',
      path: '/',
      secure: this.#config.secureCookies,
      maxAge: this.#config.flowTtl,
      ...(this.#prefix ? { prefix: this.#prefix } : {}),
    });
  }

  /** The flow id; `false` when the cookie is forged (refused before any store round trip), undefined when absent. */
  async readFlow(c: Context, state: string): Promise<string | false | undefined> {
    const name = CookieJar.flowCookieName(state);
    const verified = await getSignedCookie(c, this.#config.cookieSecret, name, this.#prefix);
    // Hono skips a value that is not even shaped like "value.signature"; that is forged too, not absent.
    if (verified === undefined && getCookie(c, name, this.#prefix) !== undefined) return false;
    return verified;
  }

  clearFlow(c: Context, state: string): void {
    deleteCookie(c, CookieJar.flowCookieName(state), {
      path: '/',
      secure: this.#config.secureCookies,
      ...(this.#prefix ? { prefix: this.#prefix } : {}),
    });
  }

  setToken(c: Context, token: string): void {
    setCookie(c, this.#config.tokenCookieName, token, this.#tokenCookieOptions(this.#config.jwtTtl));
  }

  readToken(c: Context): string | undefined {
    return getCookie(c, this.#config.tokenCookieName) || undefined;
  }

  clearToken(c: Context): void {
    deleteCookie(c, this.#config.tokenCookieName, this.#tokenCookieOptions());
  }

  /** The token cookie goes to COOKIE_DOMAIN when set, so apps on sibling subdomains receive it. */
  #tokenCookieOptions(maxAge?: number) {
    return {
      httpOnly: true,
      sameSite: 'Lax' as const,
      path: '/',
      secure: this.#config.secureCookies,
      ...(this.#config.cookieDomain ? { domain: this.#config.cookieDomain } : {}),
      ...(maxAge !== undefined ? { maxAge } : {}),
    };
  }
}
