import { createHash, createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, generateCookie, setCookie } from 'hono/cookie';
import type { CookieConfig } from '../config/types.js';
import { cookieNames, cookieValues, type TokenCookie, tokenCookie } from '../shared/cookie-header.js';

/** How long the flow cookie lives, in seconds: FLOW_TTL. The token cookie lives as long as its session. */
export interface CookieLifetimes {
  readonly flowTtl: number;
}

/** More logins than this in flight in one browser: the oldest are dropped. */
export const MAX_PENDING_FLOWS = 5;

/** What portero signs: a flow id, base64url. Nothing else is ever signed, so nothing else is read. */
const SIGNED_VALUE = /^[A-Za-z0-9_-]+$/;

/** HMAC-SHA256 of `value` under `secret`, base64url without padding: the one spelling portero writes. */
const signature = (value: string, secret: KeyObject) => createHmac('sha256', secret).update(value).digest('base64url');

/**
 * Whether `presented` is exactly the signature portero would write for `value` under one of
 * `secrets`. The texts are compared, not the bytes they decode to: `=` padding, other padding
 * bits, percent-encoding each spell the same bytes differently, and none is what portero wrote.
 * Compared in constant time; equal-length buffers, as `timingSafeEqual` needs (the length of a
 * signature is no secret).
 */
function signedBy(value: string, presented: string, secrets: readonly KeyObject[]): boolean {
  const given = Buffer.from(presented, 'utf8');
  let matched = false;
  for (const secret of secrets) {
    const expected = Buffer.from(signature(value, secret), 'utf8');
    // Every secret is tried, matched or not, so the time taken does not tell which one signed.
    if (expected.length === given.length && timingSafeEqual(expected, given)) matched = true;
  }
  return matched;
}

/**
 * Flow cookies are named after their login's state (`portero_flow_<hash of state>`), so two logins
 * in two tabs of one browser keep two cookies and both complete; a fixed name would let the second
 * overwrite the first ("state mismatch" in gateways that do so). Each carries the flow id signed
 * with COOKIE_SECRET (`<flow id>.<HMAC-SHA256, base64url>`; COOKIE_SECRET_PREVIOUS is accepted on
 * read, so the secret can be rotated under logins in flight), lives FLOW_TTL seconds, and is
 * `__Host-` prefixed and Secure under https.
 */
export class PorteroCookies {
  readonly #config: CookieConfig;
  readonly #lifetimes: CookieLifetimes;
  /** COOKIE_SECRET, then COOKIE_SECRET_PREVIOUS, each made a key once rather than on every signature. */
  readonly #secrets: readonly [KeyObject, ...KeyObject[]];

  constructor(config: CookieConfig, lifetimes: CookieLifetimes) {
    this.#config = config;
    this.#lifetimes = lifetimes;
    const key = (secret: string) => createSecretKey(Buffer.from(secret, 'utf8'));
    this.#secrets = [key(config.secret), ...config.previousSecrets.map(key)];
  }

  get #prefix() {
    return this.#config.secure ? ('host' as const) : undefined;
  }

  /** The name as the browser sends it: `__Host-` prefixed under https. */
  #sentName(name: string): string {
    return this.#prefix ? `__Host-${name}` : name;
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
    const prefix = this.#sentName('portero_flow_');
    const pending = [...new Set(cookieNames(c.req.header('cookie')))].filter((name) => name.startsWith(prefix));
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
  setFlow(c: Context, state: string, flowId: string, options: { crossSite?: boolean } = {}): void {
    c.header('Set-Cookie', this.flowLine(state, flowId, options), { append: true });
  }

  /** `setFlow`'s `Set-Cookie` line, for a response Hono does not write (the OpenID Provider's). */
  flowLine(state: string, flowId: string, options: { crossSite?: boolean } = {}): string {
    if (!SIGNED_VALUE.test(flowId)) throw new TypeError('a flow id is base64url');
    // base64url and "." are left alone by the percent-encoding Hono applies: this is the text sent.
    return generateCookie(PorteroCookies.flowCookieName(state), `${flowId}.${signature(flowId, this.#secrets[0])}`, {
      httpOnly: true,
      sameSite: options.crossSite ? 'None' : 'Lax',
      maxAge: this.#lifetimes.flowTtl,
      ...this.#flowScope(),
    });
  }

  /**
   * The flow id; `false` when the cookie is forged or spelled otherwise than portero writes it
   * (refused before any store round trip), undefined when absent. Read from the raw header.
   */
  readFlow(c: Context, state: string): string | false | undefined {
    const values = cookieValues(c.req.header('cookie'), this.#sentName(PorteroCookies.flowCookieName(state)));
    if (values.length === 0) return undefined;
    const [value] = values as [string, ...string[]];
    if (values.length > 1) return false;
    const dot = value.lastIndexOf('.');
    const flowId = value.slice(0, dot);
    if (dot < 0 || !SIGNED_VALUE.test(flowId)) return false;
    return signedBy(flowId, value.slice(dot + 1), this.#secrets) ? flowId : false;
  }

  clearFlow(c: Context, state: string): void {
    this.#deleteFlowCookie(c, PorteroCookies.flowCookieName(state));
  }

  /** `clearFlow`'s `Set-Cookie` line, for a response Hono does not write. */
  clearFlowLine(state: string): string {
    return generateCookie(PorteroCookies.flowCookieName(state), '', { ...this.#flowScope(), maxAge: 0 });
  }

  #deleteFlowCookie(c: Context, name: string): void {
    deleteCookie(c, name, this.#flowScope());
  }

  /**
   * The token cookie, kept `maxAge` seconds: as long as its session has left. The token inside
   * expires sooner (JWT_TTL), and the cookie is what renews it until the session ends.
   */
  setToken(c: Context, token: string, maxAge: number): void {
    setCookie(c, this.#config.tokenName, token, this.#tokenCookieOptions(Math.max(0, maxAge)));
  }

  /** The token cookie as sent, not decoded: none, one, or several (which counts as not signed in). */
  readToken(c: Context): TokenCookie {
    return tokenCookie(c.req.header('cookie'), this.#config.tokenName);
  }

  /** Every value sent under the token cookie's name, for `/logout` to revoke each it can. */
  readTokens(c: Context): string[] {
    return cookieValues(c.req.header('cookie'), this.#config.tokenName).filter(Boolean);
  }

  clearToken(c: Context): void {
    deleteCookie(c, this.#config.tokenName, this.#tokenCookieOptions());
  }

  /** `clearToken`'s `Set-Cookie` line, for a response Hono does not write (the OpenID Provider's). */
  clearTokenLine(): string {
    return generateCookie(this.#config.tokenName, '', this.#tokenCookieOptions(0));
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
