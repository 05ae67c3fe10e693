/**
 * A browser's part of a login, without a browser: `/login/<provider>` (keep its flow cookie, read
 * the authorization request it redirects to), then, standing in for the user at the provider, the
 * callback with a code the stub provider honours (stub-op.ts mintCode) and the flow cookie.
 */
import type { Request as CannonRequest } from 'autocannon';
import { mintCode } from './stub-op.js';

export const PROVIDER = 'corp';

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string[] {
  const found = Object.entries(headers).filter(([key]) => key.toLowerCase() === name);
  return found.flatMap(([, value]) => (value === undefined ? [] : Array.isArray(value) ? value : [value]));
}

/** The `Cookie` header a browser sends back for these `Set-Cookie` headers (name=value of each, expired ones too: they are few). */
export const cookieHeader = (setCookies: readonly string[]) => setCookies.map((line) => line.split(';', 1)[0]).join('; ');

/** The callback's path and query for the authorization request at `location`. */
export function callbackPath(location: string): string {
  const authorization = new URL(location);
  const params = authorization.searchParams;
  const code = mintCode(params.get('nonce'), params.get('code_challenge'));
  const state = params.get('state') ?? '';
  return `/callback/${PROVIDER}?${new URLSearchParams({ code, state })}`;
}

interface FlowContext {
  location?: string;
  cookie?: string;
}

/** autocannon's requests for one whole login on each pass: `/login/corp`, then its callback with the flow cookie. */
export function loginThenCallback(): CannonRequest[] {
  return [
    {
      method: 'GET',
      path: `/login/${PROVIDER}`,
      onResponse: (status: number, _body: string, context: FlowContext, headers: Headers) => {
        const location = header(headers, 'location')[0];
        if (status !== 302 || !location) return;
        context.location = location;
        context.cookie = cookieHeader(header(headers, 'set-cookie'));
      },
    } as CannonRequest,
    {
      method: 'GET',
      // A login that did not start has no callback: falsy starts the pass again (counted as a reset).
      setupRequest: (request: CannonRequest, context: FlowContext) => {
        if (!context.location) return undefined as unknown as CannonRequest;
        return { ...request, path: callbackPath(context.location), headers: { ...request.headers, cookie: context.cookie ?? '' } };
      },
    } as CannonRequest,
  ];
}

/** One whole login by fetch: the token cookie's `Set-Cookie` value at the end. */
export async function loginOnce(origin: string): Promise<string> {
  const login = await fetch(`${origin}/login/${PROVIDER}`, { redirect: 'manual' });
  const location = login.headers.get('location');
  if (login.status !== 302 || !location) throw new Error(`/login/${PROVIDER} answered ${login.status}: ${await login.text()}`);
  const callback = await fetch(`${origin}${callbackPath(location)}`, {
    redirect: 'manual',
    headers: { cookie: cookieHeader(login.headers.getSetCookie()) },
  });
  const token = callback.headers
    .getSetCookie()
    .map((line) => /^auth_token=([^;]+)/.exec(line)?.[1])
    .find(Boolean);
  if (callback.status !== 302 || !token) throw new Error(`the callback answered ${callback.status}: ${await callback.text()}`);
  return token;
}

/** Starts `count` logins (never finished): each leaves one pending flow in the store. */
export async function startLogins(origin: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const login = await fetch(`${origin}/login/${PROVIDER}`, { redirect: 'manual' });
    if (login.status !== 302) throw new Error(`/login/${PROVIDER} answered ${login.status}`);
  }
}

/** Signs out the session of `token` as portero's own sign-out form would: the store then holds its revocation. */
export async function logout(origin: string, token: string): Promise<void> {
  const response = await fetch(`${origin}/logout`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      origin,
      cookie: `auth_token=${token}`,
      'content-type': 'application/x-www-form-urlencoded',
      'sec-fetch-site': 'same-origin',
    },
    body: '',
  });
  if (response.status >= 400) throw new Error(`POST /logout answered ${response.status}: ${await response.text()}`);
}
