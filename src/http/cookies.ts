import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, getSignedCookie, setCookie, setSignedCookie } from 'hono/cookie';
import type { CookieConfig } from '../config/types.js';

/** How long the cookies live, in seconds: the flow's FLOW_TTL and the token's JWT_TTL. */
export interface CookieLifetimes {
  readonly flowTtl: number;
  readonly tokenTtl: number;
}

/** More logins than this in flight in one browser: the oldest are dropped. */
export const MAX_PENDING_FLOWS = 5;

/**
 * Flow cookies are named after their login's state (`portero_flow_<hash of state>`), so two logins
 * in two tabs of one browser keep two cookies and both complete; a fixed name would let the second
 * overwrite the first ("state mismatch" in gateways that do so). Each carries the flow id signed
 * with COOKIE_SECRET, lives FLOW_TTL seconds, and is `__Host-` prefixed and Secure under https.
 */
export class PorteroCookies {
  readonly #config: CookieConfig;
  readonly #lifetimes: CookieLifetimes;

  constructor(config: CookieConfig, lifetimes: CookieLifetimes) {
    this.#config = config;
    this.#lifetimes = lifetimes;
  }

  get #prefix() {
    return this.#config.secure ? ('host' as const) : undefined;
  }

  /** Where a flow cookie lives; setting and clearing must name the same. */
  #flowScope() {
    return { path: '/', secure: this.#config.secure, ...(this.#prefix ? { prefix: this.#prefix } : {}) };
  }

  static flowCookieName(state: string): string {
    return `portero_flow_${createHash('sha256').update(state).digest('base64url').slice(0, 16)}`;
  }

  /**
   * Clears the oldest flow cookies when a browser already holds `MAX_PENDING_FLOWS` (someone
   * clicking "sign in" over and over), so their request headers stay small. Browsers send cookies
   * oldest first (RFC 6265, 5.4), so the first ones are dropped; their logins fail as expired.
   */
  pruneFlows(c: Context): void {
    const prefix = `${this.#prefix ? '__Host-' : ''}portero_flow_`;
    const pending = Object.keys(getCookie(c)).filter((name) => name.startsWith(prefix));
    for (const name of pending.slice(0, Math.max(0, pending.length - MAX_PENDING_FLOWS + 1))) {
      this.#deleteFlowCookie(c, name.slice(this.#prefix ? '__Host-'.length : 0));
    }
  }

  /**
   * Binds the browser to its login. SameSite=Lax: the provider's redirect back is a top-level GET,
   * which carries it, while other sites' requests do not. A provider that posts its answer
   * (`crossSite`, form_post) needs SameSite=None, which browsers keep only with Secure (config
   * requires https for such a provider); the cookie stays HttpOnly, signed, named after its state.
   */
  setFlow(c: Context, state: string, flowId: string, options: { crossSite?: boolean } = {}): Promise<void> {
    return setSignedCookie(c, PorteroCookies.flowCookieName(state), flowId, this.#config.secret, {
      httpOnly: true,
      sameSite: options.crossSite ? 'None' : 'Lax',
      maxAge: this.#lifetimes.flowTtl,
      ...this.#flowScope(),
    });
  }

  /** The flow id; `false` when the cookie is forged (refused before any store round trip), undefined when absent. */
  async readFlow(c: Context, state: string): Promise<string | false | undefined> {
    const name = PorteroCookies.flowCookieName(state);
    const verified = await getSignedCookie(c, this.#config.secret, name, this.#prefix);
    // Hono skips a value that is not even shaped like "value.signature"; that is forged too, not absent.
    if (verified === undefined && getCookie(c, name, this.#prefix) !== undefined) return false;
    return verified;
  }

  clearFlow(c: Context, state: string): void {
    this.#deleteFlowCookie(c, PorteroCookies.flowCookieName(state));
  }

  #deleteFlowCookie(c: Context, name: string): void {
    deleteCookie(c, name, this.#flowScope());
  }

  setToken(c: Context, token: string): void {
    setCookie(c, this.#config.tokenName, token, this.#tokenCookieOptions(this.#lifetimes.tokenTtl));
  }

  readToken(c: Context): string | undefined {
    return getCookie(c, this.#config.tokenName) || undefined;
  }

  clearToken(c: Context): void {
    deleteCookie(c, this.#config.tokenName, this.#tokenCookieOptions());
  }

  /** The token cookie goes to COOKIE_DOMAIN when set, so apps on sibling subdomains receive it. */
  #tokenCookieOptions(maxAge?: number) {
    return {
      httpOnly: true,
      sameSite: 'Lax' as const,
      path: '/',
      secure: this.#config.secure,
      ...(this.#config.domain ? { domain: this.#config.domain } : {}),
      ...(maxAge !== undefined ? { maxAge } : {}),
    };
  }
}
