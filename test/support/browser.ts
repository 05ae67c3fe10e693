import { CookieJar, type Cookie } from 'tough-cookie';

/** Real HTTP (the global fetch), as a {@link TestBrowser} target for servers and processes on the network. */
export const network = { fetch: (request: Request) => fetch(request) };

type Fetcher = { request(input: Request): Response | Promise<Response> } | { fetch(input: Request): Response | Promise<Response> };

/**
 * A browser's cookie jar in front of one or more in-process apps: it stores what `Set-Cookie`
 * says (with Secure, HttpOnly, Max-Age and prefixes honoured by tough-cookie) and sends the
 * cookies a real browser would. Redirects are not followed, so tests see each hop.
 */
export class TestBrowser {
  readonly jar = new CookieJar();

  async request(target: Fetcher, url: string | URL, init: RequestInit = {}): Promise<Response> {
    const href = String(url);
    const headers = new Headers(init.headers);
    if (!headers.has('accept')) headers.set('accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
    const cookie = await this.jar.getCookieString(href);
    if (cookie) headers.set('cookie', cookie);
    const request = new Request(href, { ...init, headers, redirect: 'manual' });
    const response = 'fetch' in target ? await target.fetch(request) : await target.request(request);
    for (const line of response.headers.getSetCookie()) await this.jar.setCookie(line, href);
    return response;
  }

  get(target: Fetcher, url: string | URL, headers?: HeadersInit) {
    return this.request(target, url, { headers });
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
