import fc from 'fast-check';

/**
 * fast-check arbitraries for requests a hostile or broken client sends a gateway: every route and
 * many that are not, repeated and huge query parameters, odd encodings, odd cookies, odd
 * `Authorization` headers and form bodies. Header values stay within what `Headers` accepts (bytes
 * 0x01-0xFF but CR and LF), which is also what Node's HTTP parser hands a server.
 */

/** A request as the fuzz describes it; `toRequest` turns it into a `Request`. */
export interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  /** The raw query string, without `?`: sent as it is, odd percent-encodings included. */
  readonly query: string;
  readonly cookies: readonly (readonly [string, string])[];
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: { readonly contentType?: string; readonly text: string };
}

export const ROUTES = [
  '/',
  '/login/corp',
  '/callback/corp',
  '/auth',
  '/auth/redirect',
  '/userinfo',
  '/refresh',
  '/logout',
  '/signed-out',
  '/backchannel-logout/corp',
  '/backchannel-logout/nope',
  '/favicon.svg',
  '/.well-known/jwks.json',
  '/.well-known/openid-configuration',
  '/healthz',
  '/readyz',
  '/metrics',
] as const;

/** Characters a header value may hold: printable ASCII, tab, a few controls, Latin-1. */
const headerChar = fc
  .oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.constantFrom(0x01, 0x09, 0x0b, 0x1f, 0x7f) },
    { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
  )
  .map((code) => String.fromCharCode(code));

const headerText = (maxLength: number) => fc.string({ unit: headerChar, maxLength });

/** A long run of one character: a huge value without generating it character by character. */
const huge = (max: number) =>
  fc.tuple(fc.constantFrom('a', '%', '%41', '=', '.', '\u00e9', ';'), fc.integer({ min: 1, max })).map(([s, n]) => s.repeat(n));

const oddEncoding = fc.constantFrom(
  '%',
  '%z',
  '%zz',
  '%E0%A4%A',
  '%C0%AF',
  '%ED%A0%80',
  '%00',
  '%0d%0a',
  '%2e%2e',
  '%2F',
  '%5C',
  '+',
  '%25',
  '%FF%FE',
);

const anyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.stringMatching(/^[\w-]{43}$/),
);

/** A URL component: random text percent-encoded, odd raw encodings, or a huge value. */
export const component = fc.oneof(
  { weight: 4, arbitrary: anyText.map(encodeURIComponent) },
  {
    weight: 2,
    arbitrary: fc.array(fc.oneof(oddEncoding, fc.stringMatching(/^[\w.~-]{0,8}$/)), { maxLength: 5 }).map((parts) => parts.join('')),
  },
  { weight: 1, arbitrary: huge(20_000) },
);

const segment = fc.oneof(
  fc.constantFrom('corp', 'nope', 'login', 'callback', '.', '..', '', '__proto__', 'constructor', 'auth', '.well-known', 'CORP', 'corp '),
  component,
);

const path = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...ROUTES) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom(...ROUTES), fc.array(segment, { maxLength: 3 })).map(([route, rest]) => [route, ...rest].join('/')),
  },
  { weight: 2, arbitrary: fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => `/${parts.join('/')}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '/login/',
      '/callback/',
      '/login/corp/',
      '//login/corp',
      '/./auth',
      '/x/../auth',
      '/%2e%2e/auth',
      '/sso/',
      '/AUTH',
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 4000 }).map((n) => `/${'a/'.repeat(n)}`) },
);

/** The callback's and login's parameters, plus others; repeated, empty, odd or huge. */
const queryKey = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.constantFrom(
      'state',
      'code',
      'return_to',
      'error',
      'error_description',
      'iss',
      'session_state',
      'user',
      'everywhere',
      'logout_token',
      'allowed_groups',
      'allowed_email_domains',
    ),
  },
  { weight: 1, arbitrary: component },
);

const returnTo = fc.constantFrom(
  'https://app.example.com/x',
  '/after',
  '//evil.example.net',
  'https://evil.example.net/',
  'javascript:alert(1)',
  '/\\evil.example.net',
  'https://app.example.com@evil.example.net/',
  'http://[::1',
  '',
);

export const queryValue = fc.oneof(
  component,
  returnTo.map(encodeURIComponent),
  fc.constantFrom('access_denied', 'https://idp.example.test', 'true', 'admins'),
);

export const queryPairs = fc.array(fc.tuple(queryKey, fc.option(queryValue, { nil: undefined })), { maxLength: 12 });

const query = fc.oneof(
  { weight: 1, arbitrary: fc.constant('') },
  {
    weight: 6,
    arbitrary: queryPairs.map((pairs) => pairs.map(([key, value]) => (value === undefined ? key : `${key}=${value}`)).join('&')),
  },
  { weight: 1, arbitrary: fc.constantFrom('&&&', '=', '==', 'state', '%', '?', '#', ';;') },
);

const cookieName = fc.oneof(
  fc.constantFrom(
    'auth_token',
    '__Host-auth_token',
    '__Host-portero_flow_',
    'portero_flow_',
    '__Host-',
    '__Secure-',
    '__proto__',
    'constructor',
    '',
  ),
  fc.stringMatching(/^[\w-]{16}$/).map((hash) => `__Host-portero_flow_${hash}`),
  fc.string({ unit: headerChar, maxLength: 12 }).filter((name) => !name.includes(';') && !name.includes('=')),
);

const cookieValue = fc.oneof(
  headerText(40).filter((value) => !value.includes(';')),
  fc.stringMatching(/^[\w-]{43}\.[\w+/]{43}=$/),
  fc.tuple(fc.stringMatching(/^[\w-]{43}$/), oddEncoding).map(([id, tail]) => `${id}.${tail}`),
  fc.constantFrom('"', '""', '"quoted"', '%', '%E0%A4%A', 'a=b=c', '.', 'x.', '.y'),
  huge(10_000).map((value) => value.replaceAll(';', ',')),
);

export const cookies = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.tuple(cookieName, cookieValue), { maxLength: 8 }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 50, max: 400 }).map((n) => Array.from({ length: n }, (_, i) => [`c${i}`, 'v'.repeat(i % 50)] as const)),
  },
);

const base64url = (json: unknown) => Buffer.from(JSON.stringify(json)).toString('base64url');

/** JWT-shaped garbage: headers of any alg (none included), any payload, any signature. */
const jwtShaped = fc
  .tuple(
    fc.record({
      alg: fc.constantFrom('none', 'HS256', 'ES256', 'RS256', 'EdDSA', ''),
      typ: fc.constantFrom('JWT', 'at+jwt', undefined),
      kid: fc.option(fc.string()),
    }),
    fc.oneof(
      fc.jsonValue(),
      fc.record({
        sub: fc.string(),
        sid: fc.string(),
        exp: fc.integer(),
        iat: fc.integer(),
        iss: fc.constantFrom('https://gateway.test', 'x'),
      }),
    ),
    fc.stringMatching(/^[\w-]{0,86}$/),
  )
  .map(([header, payload, signature]) => `${base64url(header)}.${base64url(payload)}.${signature}`);

export const authorization = fc.oneof(
  fc.constant(''),
  fc.constantFrom('Bearer', 'Bearer ', 'bearer x', 'Basic', 'Basic Og==', 'Basic !!!', 'Negotiate x', 'Bearer a b', 'Bearer a.b.c'),
  jwtShaped.map((jwt) => `Bearer ${jwt}`),
  headerText(60).map((text) => `Bearer ${text}`),
  headerText(60).map((text) => `Basic ${Buffer.from(text, 'latin1').toString('base64')}`),
  huge(10_000).map((text) => `Bearer ${text}`),
);

/** Headers another part of the gateway reads or may read: proxies', the request id, content negotiation. */
export const oddHeaders = fc.array(
  fc.tuple(
    fc.constantFrom(
      'x-forwarded-for',
      'forwarded',
      'x-request-id',
      'x-real-ip',
      'x-forwarded-host',
      'x-forwarded-proto',
      'x-forwarded-uri',
      'x-original-url',
      'accept',
      'host',
      'origin',
      'referer',
      'sec-fetch-site',
      'user-agent',
      'content-length',
      'transfer-encoding',
      'content-type',
      // The identity headers /auth answers with, which it refuses from a client in any spelling.
      'x-auth-request-user',
      'X_Auth_Request_Email',
      'x-auth-request-redirect',
    ),
    fc.oneof(
      headerText(80),
      fc.constantFrom(
        'for=',
        'for="[::1',
        'for=unknown;proto=javascript',
        '1.2.3.4, , ,',
        '::ffff:1.2.3.4',
        '999.1.1.1',
        'application/json',
        'text/html',
      ),
      huge(10_000).map((text) => text.replaceAll('\u00e9', 'e')),
    ),
  ),
  { maxLength: 4 },
);

const formContentType = fc.constantFrom(
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=UTF-8',
  'APPLICATION/X-WWW-FORM-URLENCODED',
  'application/x-www-form-urlencodedx',
  'text/plain',
  'application/json',
  'multipart/form-data; boundary=x',
  '',
);

export const formBody = fc.record(
  {
    contentType: formContentType,
    text: fc.oneof(
      { weight: 4, arbitrary: queryPairs.map((pairs) => pairs.map(([key, value]) => `${key}=${value ?? ''}`).join('&')) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
      { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 200_000 }).map((n) => `state=${'a'.repeat(n)}`) },
    ),
  },
  { requiredKeys: ['text'] },
);

/** Where a POST goes: mostly the routes that take one (the form_post callback, logout, refresh, back-channel logout). */
const postPath = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '/callback/corp',
      '/logout',
      '/callback/nope',
      '/refresh',
      '/backchannel-logout/corp',
      '/backchannel-logout/nope',
    ),
  },
  { weight: 1, arbitrary: path },
);

const method = fc.oneof(
  { weight: 12, arbitrary: fc.constant('GET') },
  { weight: 5, arbitrary: fc.constant('POST') },
  { weight: 2, arbitrary: fc.constantFrom('HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PATCH', 'TRACE-X') },
);

export const fuzzRequest: fc.Arbitrary<FuzzRequest> = method.chain((verb) =>
  fc
    .record({
      path: verb === 'POST' ? postPath : path,
      query,
      cookies,
      authorization: fc.option(authorization, { nil: undefined }),
      headers: oddHeaders,
      body: verb === 'GET' || verb === 'HEAD' ? fc.constant(undefined) : fc.option(formBody, { nil: undefined }),
    })
    .map(({ authorization: auth, headers, body, ...rest }) => ({
      ...rest,
      method: verb,
      headers: auth === undefined ? headers : [...headers, ['authorization', auth] as const],
      ...(body ? { body } : {}),
    })),
);

/** The `Request` a fuzz case describes, against `origin` (e.g. `https://gateway.test` or `https://gateway.test/sso`). */
export function toRequest(origin: string, fuzz: FuzzRequest, extraCookies: readonly (readonly [string, string])[] = []): Request {
  const headers = new Headers();
  for (const [name, value] of fuzz.headers) headers.append(name, value);
  const cookieHeader = [...fuzz.cookies, ...extraCookies].map(([name, value]) => `${name}=${value}`).join('; ');
  if (cookieHeader) headers.set('cookie', cookieHeader);
  if (fuzz.body?.contentType !== undefined) headers.set('content-type', fuzz.body.contentType);
  const url = `${origin}${fuzz.path}${fuzz.query ? `?${fuzz.query}` : ''}`;
  return new Request(url, { method: fuzz.method, headers, ...(fuzz.body ? { body: fuzz.body.text } : {}) });
}

/** What a request looked like, for the list of the slowest: method, path shape, sizes; never values. */
export function shapeOf(fuzz: FuzzRequest): string {
  const shortPath = fuzz.path.length > 60 ? `${fuzz.path.slice(0, 40)}…(${fuzz.path.length} chars)` : fuzz.path;
  const cookieBytes = fuzz.cookies.reduce((sum, [name, value]) => sum + name.length + value.length + 2, 0);
  return `${fuzz.method} ${shortPath} query=${fuzz.query.length}B cookies=${fuzz.cookies.length}/${cookieBytes}B body=${fuzz.body?.text.length ?? 0}B`;
}

/** What every answer has, whatever its status: a request id of its own, the security headers, no stack trace. */
export function checkAnswer(response: Response, body: string, what: string): void {
  // A request id is echoed only when it is one, never a client's garbage (another header's worth of bytes).
  const requestId = response.headers.get('x-request-id') ?? '';
  if (!/^[\x21-\x7e]{1,255}$/.test(requestId)) throw new Error(`an odd X-Request-Id (${requestId.length} chars) in the answer to ${what}`);
  // Every answer, a 404 outside PUBLIC_URL's path too, carries the security headers.
  if (!response.headers.get('content-security-policy')?.includes("frame-ancestors 'none'")) {
    throw new Error(`no Content-Security-Policy in the answer to ${what}`);
  }
  // An answer, even a refusal, never shows a stack trace.
  if (/\bat .+\.(?:ts|js):\d+:\d+/.test(body)) throw new Error(`a stack trace in the answer to ${what}`);
}

/** How long a fuzzed request may take before it counts as a hang. */
export const HANG_MS = 5_000;

/** Resolves with the response, or rejects once `HANG_MS` have passed. */
export async function withinBound<T>(response: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${HANG_MS} ms: ${what}`)), HANG_MS);
  });
  try {
    return await Promise.race([response, hang]);
  } finally {
    clearTimeout(timer);
  }
}
