import fc from 'fast-check';
import { authorization, component, oddHeaders, queryValue } from './fuzz-requests.js';

/**
 * fast-check arbitraries for requests a hostile or broken client (or app) sends portero's OpenID
 * Provider: its routes, the parameters of OpenID Connect and OAuth (repeated, odd, huge), its
 * cookies, `Authorization` headers with real and forged client credentials. Sent over real HTTP:
 * the provider takes Node's own request.
 */

/** A request to the provider as the fuzz describes it; `uid` is replaced by a live interaction's when there is one. */
export interface OpFuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly cookies: readonly (readonly [string, string])[];
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: { readonly contentType: string; readonly text: string };
}

/** Where a live interaction's uid goes in a path. */
export const UID = '{uid}';

const OP_PATHS = [
  '/authorize',
  `/authorize/${UID}`,
  `/interaction/${UID}`,
  '/token',
  '/token/revocation',
  '/token/introspection',
  '/end-session',
  '/end-session/confirm',
  '/end-session/success',
  '/userinfo',
  '/.well-known/openid-configuration',
  '/par',
  '/register',
  '/device',
  '/device/auth',
  '/backchannel',
] as const;

/** The routes where the provider's and portero's logic is (the others are off, or discovery). */
const MAIN_PATHS = ['/authorize', `/authorize/${UID}`, `/interaction/${UID}`, '/token', '/end-session', '/end-session/confirm'] as const;

const path = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...MAIN_PATHS) },
  { weight: 6, arbitrary: fc.constantFrom(...OP_PATHS) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom('/authorize/', '/interaction/', '/end-session/'),
        fc.oneof(component, fc.constantFrom('..', '.', '%2e%2e', '')),
      )
      .map(([route, rest]) => `${route}${rest}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '//authorize',
      '/authorize/',
      '/./authorize',
      '/x/../authorize',
      '/%61uthorize',
      '/AUTHORIZE',
      '/token/',
      '/interaction',
    ),
  },
);

/** The parameters of the provider's endpoints. */
const paramKey = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      'client_id',
      'redirect_uri',
      'response_type',
      'response_mode',
      'scope',
      'state',
      'nonce',
      'prompt',
      'max_age',
      'code_challenge',
      'code_challenge_method',
      'id_token_hint',
      'login_hint',
      'claims',
      'request',
      'request_uri',
      'resource',
      'acr_values',
      'ui_locales',
      'grant_type',
      'code',
      'code_verifier',
      'refresh_token',
      'client_secret',
      'client_assertion',
      'client_assertion_type',
      'token',
      'token_type_hint',
      'post_logout_redirect_uri',
      'logout',
      'xsrf',
    ),
  },
  { weight: 1, arbitrary: component },
);

const jwtLike = fc
  .tuple(
    fc.constantFrom('eyJhbGciOiJub25lIn0', 'eyJhbGciOiJSUzI1NiJ9', 'e30'),
    fc.stringMatching(/^[\w-]{0,40}$/),
    fc.stringMatching(/^[\w-]{0,40}$/),
  )
  .map((parts) => parts.join('.'));

/** Values that reach the provider's checks: real client ids and URIs beside odd ones, and any fuzz value. */
const paramValue = (appsUrl: string) =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        'one',
        'two',
        'ONE',
        'one ',
        'code',
        'token',
        'id_token',
        'code id_token',
        'none',
        'login',
        'consent',
        'select_account',
        'none login',
        'openid',
        'openid email profile offline_access',
        'openid api',
        'S256',
        'plain',
        'form_post',
        'query',
        'fragment',
        'jwt',
        'authorization_code',
        'refresh_token',
        'client_credentials',
        'yes',
        '0',
        '-1',
        '99999999999999999999',
        '{"userinfo":{"email":null}}',
        '{',
        'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(
          `${appsUrl}/one/callback`,
          `${appsUrl}/two/callback`,
          `${appsUrl}/one/bye`,
          `${appsUrl}/one/callback/../x`,
          `${appsUrl}/one/callback?x=1`,
          `${appsUrl}/one/callback#x`,
          'https://evil.example.net/one/callback',
          '//evil.example.net',
          'javascript:alert(1)',
          'http://[::1',
          'urn:ietf:wg:oauth:2.0:oob',
        )
        .map(encodeURIComponent),
    },
    { weight: 1, arbitrary: jwtLike },
    { weight: 3, arbitrary: queryValue },
  );

const pairs = (appsUrl: string) => fc.array(fc.tuple(paramKey, fc.option(paramValue(appsUrl), { nil: undefined })), { maxLength: 14 });

/** A well-formed request of app one or two (authorization, code exchange, sign-out), to be spoilt by the fuzz's pairs. */
const wellFormed = (appsUrl: string) =>
  fc.constantFrom('one', 'two').chain((app) =>
    fc.constantFrom<[string, string][]>(
      [
        ['client_id', app],
        ['redirect_uri', encodeURIComponent(`${appsUrl}/${app}/callback`)],
        ['response_type', 'code'],
        ['scope', 'openid'],
        ['state', 'fuzz-state'],
        ['code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'],
        ['code_challenge_method', 'S256'],
      ],
      [
        ['grant_type', 'authorization_code'],
        ['client_id', app],
        ['code', 'not-a-code-but-long-enough-to-look-like-one'],
        ['redirect_uri', encodeURIComponent(`${appsUrl}/${app}/callback`)],
        ['code_verifier', 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'],
      ],
      [
        ['client_id', app],
        ['post_logout_redirect_uri', encodeURIComponent(`${appsUrl}/one/bye`)],
        ['state', 'bye'],
      ],
    ),
  );

const encodedPairs = (appsUrl: string) =>
  fc
    .oneof(
      { weight: 2, arbitrary: pairs(appsUrl) },
      { weight: 3, arbitrary: fc.tuple(wellFormed(appsUrl), pairs(appsUrl)).map(([base, spoilt]) => [...base, ...spoilt.slice(0, 4)]) },
    )
    .map((list) => list.map(([key, value]) => (value === undefined ? key : `${key}=${value}`)).join('&'));

const cookieName = fc.constantFrom(
  'portero_op_session',
  'portero_op_session.sig',
  'portero_op_session.legacy',
  'portero_op_interaction',
  'portero_op_interaction.sig',
  'portero_op_resume',
  'portero_op_resume.sig',
  'auth_token',
  '_session',
  'x',
);

const cookieValue = fc.oneof(
  fc.stringMatching(/^[\w-]{21}$/),
  fc.stringMatching(/^[\w-]{27}$/),
  fc.constantFrom('', '"', '%', '%E0%A4%A', 'a=b', '.', 'x.y.z'),
  jwtLike,
);

const opCookies = fc.array(fc.tuple(cookieName, cookieValue), { maxLength: 6 });

/** Basic credentials: the real app's, its id with a wrong secret, odd encodings. */
const clientAuthorization = (secret: string) =>
  fc.oneof(
    fc.constantFrom(
      `Basic ${Buffer.from(`one:${secret}`).toString('base64')}`,
      `Basic ${Buffer.from('one:wrong').toString('base64')}`,
      `Basic ${Buffer.from('two:').toString('base64')}`,
      `Basic ${Buffer.from('%zz:%zz').toString('base64')}`,
      `Basic ${Buffer.from('one').toString('base64')}`,
      `Basic ${Buffer.from(':').toString('base64')}`,
      'Bearer opaque-token-that-is-none',
    ),
    authorization,
  );

const contentType = fc.constantFrom(
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=UTF-8',
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=x',
);

const method = fc.oneof(
  { weight: 8, arbitrary: fc.constant('GET') },
  { weight: 6, arbitrary: fc.constant('POST') },
  { weight: 1, arbitrary: fc.constantFrom('HEAD', 'OPTIONS', 'PUT', 'DELETE') },
);

/** Headers whose values fetch sends as they are (no `host`, `content-length` or `transfer-encoding`, which it sets itself). */
const headers = oddHeaders.map((list) => list.filter(([name]) => !['host', 'content-length', 'transfer-encoding'].includes(name)));

/** A generated request to the provider of a stack whose apps' servers are at `appsUrl` (app `one`'s secret `secret`). */
export function opFuzzRequest(appsUrl: string, secret: string): fc.Arbitrary<OpFuzzRequest> {
  return method.chain((verb) =>
    fc
      .record({
        path,
        query: fc.oneof(encodedPairs(appsUrl), fc.constantFrom('', '&&', '=', '%', 'client_id=one&client_id=two')),
        cookies: opCookies,
        authorization: fc.option(clientAuthorization(secret), { nil: undefined }),
        headers,
        body:
          verb === 'POST'
            ? fc.option(fc.record({ contentType, text: fc.oneof(encodedPairs(appsUrl), fc.string({ unit: 'binary', maxLength: 200 })) }), {
                nil: undefined,
              })
            : fc.constant(undefined),
      })
      .map(({ authorization: auth, headers: list, body, ...rest }) => ({
        ...rest,
        method: verb,
        headers: auth === undefined ? list : [...list, ['authorization', auth] as const],
        ...(body ? { body } : {}),
      })),
  );
}

/** What a request looked like, for a failure's message: method, path, sizes; never values. */
export function opShapeOf(fuzz: OpFuzzRequest): string {
  const shortPath = fuzz.path.length > 60 ? `${fuzz.path.slice(0, 40)}…(${fuzz.path.length} chars)` : fuzz.path;
  return `${fuzz.method} ${shortPath} query=${fuzz.query.length}B cookies=${fuzz.cookies.map(([name]) => name).join(',')} body=${fuzz.body?.text.length ?? 0}B`;
}
