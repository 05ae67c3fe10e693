import { type Cookie, CookieJar, getPublicSuffix } from 'tough-cookie';

/** Real HTTP (the global fetch), as a {@link TestBrowser} target for servers and processes on the network. */
export const network = { fetch: (request: Request) => fetch(request) };

type Fetcher = { request(input: Request): Response | Promise<Response> } | { fetch(input: Request): Response | Promise<Response> };

export interface NavigationInit extends RequestInit {
  /**
   * The origin of the page the request comes from (a provider's, when it sends the browser back).
   * Another site makes the request cross-site, where a SameSite=Lax cookie goes only with a GET
   * and a SameSite=Strict one not at all, as browsers do. Default: the request's own origin.
   * `null`: no page, an address typed or a bookmark (`Sec-Fetch-Site: none`).
   */
  readonly from?: string | null;
}

/** The site of a URL as browsers compare them: scheme and registrable domain (RFC 6265bis, "schemeful same-site"). */
function siteOf(url: URL): string {
  return `${url.protocol}//${getPublicSuffix(url.hostname, { ignoreError: true }) ?? url.hostname}`;
}

/** Which SameSite cookies a navigation to `url` from `from` carries (tough-cookie's sameSiteContext). */
function sameSiteContext(url: URL, from: string | null | undefined, method: string): 'strict' | 'lax' | 'none' {
  if (from == null || siteOf(new URL(from)) === siteOf(url)) return 'strict';
  return method === 'GET' || method === 'HEAD' ? 'lax' : 'none';
}

/**
 * The headers a browser adds to a navigation from `from` (Fetch standard): `Sec-Fetch-*`; `Origin`
 * on a POST; `Referer` as the default policy (strict-origin-when-cross-origin) sends it to another
 * origin, the page's origin only. Headers the test sets itself are left as they are.
 */
function navigationHeaders(headers: Headers, url: URL, from: string | null | undefined, method: string): void {
  const page = from === undefined ? url : from === null ? undefined : new URL(from);
  const site =
    page === undefined ? 'none' : page.origin === url.origin ? 'same-origin' : siteOf(page) === siteOf(url) ? 'same-site' : 'cross-site';
  const added: Record<string, string | undefined> = {
    'sec-fetch-site': site,
    'sec-fetch-mode': 'navigate',
    'sec-fetch-dest': 'document',
    origin: page && method !== 'GET' && method !== 'HEAD' ? page.origin : undefined,
    referer: page && page.origin !== url.origin ? `${page.origin}/` : undefined,
  };
  for (const [name, value] of Object.entries(added)) if (value !== undefined && !headers.has(name)) headers.set(name, value);
}

/**
 * A browser's cookie jar in front of one or more in-process apps: it stores what `Set-Cookie`
 * says (with Secure, HttpOnly, Max-Age and prefixes honoured by tough-cookie) and sends the
 * cookies a real browser would, SameSite included, with the Sec-Fetch-Site, Origin and Referer
 * headers of a navigation (see `NavigationInit.from`). Every request is a
 * top-level navigation; redirects are not followed, so tests see each hop.
 */
export class TestBrowser {
  readonly jar = new CookieJar();

  async request(target: Fetcher, url: string | URL, init: NavigationInit = {}): Promise<Response> {
    const href = String(url);
    const { from, ...requestInit } = init;
    const headers = new Headers(requestInit.headers);
    if (!headers.has('accept')) headers.set('accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
    const method = (requestInit.method ?? 'GET').toUpperCase();
    navigationHeaders(headers, new URL(href), from, method);
    const cookie = await this.jar.getCookieString(href, { sameSiteContext: sameSiteContext(new URL(href), from, method) });
    if (cookie) headers.set('cookie', cookie);
    const request = new Request(href, { ...requestInit, headers, redirect: 'manual' });
    const response = 'fetch' in target ? await target.fetch(request) : await target.request(request);
    // A top-level navigation may set SameSite cookies even when it came from another site (RFC 6265bis, storage model).
    for (const line of response.headers.getSetCookie()) await this.jar.setCookie(line, href);
    return response;
  }

  get(target: Fetcher, url: string | URL, headers?: HeadersInit, options: { from?: string | null } = {}) {
    return this.request(target, url, { headers, ...options });
  }

  async cookies(url: string | URL): Promise<Cookie[]> {
    return this.jar.getCookies(String(url));
  }

  async cookie(url: string | URL, name: string): Promise<Cookie | undefined> {
    return (await this.cookies(url)).find((cookie) => cookie.key === name);
  }
}

/** The cookies a response set, by name, as `Set-Cookie` lines (to assert attributes exactly). */
export function setCookieLines(response: Response): Map<string, string> {
  return new Map(response.headers.getSetCookie().map((line) => [line.slice(0, line.indexOf('=')), line]));
}
