import { HttpResponse, http, type JsonBodyType } from 'msw';
import { MockTokenEndpoint } from './oauth-server.js';

export const BITBUCKET_KEY = 'bb-consumer-key';
export const BITBUCKET_SECRET = 'bb-consumer-secret';
const API = 'https://api.bitbucket.org/2.0';

/** Bitbucket's error body (https://developer.atlassian.com/cloud/bitbucket/rest/intro/#standardized-error-responses). */
const apiError = (message: string, detail?: Record<string, unknown>) => ({
  type: 'error',
  error: { message, ...(detail ? { detail } : {}) },
});

/** One page of a paginated list (https://developer.atlassian.com/cloud/bitbucket/rest/intro/#pagination). */
export const page = (values: JsonBodyType[], next?: string) => ({
  pagelen: 10,
  values,
  page: 1,
  size: values.length,
  ...(next ? { next } : {}),
});

/** An entry of `GET /2.0/user/emails`, as Bitbucket lists it. */
export const emailEntry = (email: string, primary: boolean, confirmed: boolean) => ({
  is_primary: primary,
  is_confirmed: confirmed,
  type: 'email',
  email,
  links: { self: { href: `${API}/user/emails/${encodeURIComponent(email)}` } },
});

/**
 * Bitbucket Cloud at the network edge: its token endpoint (the consumer's key and secret as HTTP
 * Basic, https://developer.atlassian.com/cloud/bitbucket/oauth-2/), `GET /2.0/user` and the
 * paginated `GET /2.0/user/emails` (https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/).
 */
export class MockBitbucket {
  user: JsonBodyType = {};
  /** The pages of `/2.0/user/emails` by their `page` query parameter; page 1 without one. */
  emailPages: Record<string, JsonBodyType> = {};
  /** 403 is Bitbucket's answer to a token without the `email` scope. */
  emailsStatus = 200;
  readonly apiCalls: string[] = [];
  readonly token = new MockTokenEndpoint({
    url: 'https://bitbucket.org/site/oauth2/access_token',
    clientId: BITBUCKET_KEY,
    clientSecret: BITBUCKET_SECRET,
    methods: ['client_secret_basic'],
    answer: (accessToken) => ({
      access_token: accessToken,
      scopes: 'account email',
      token_type: 'bearer',
      expires_in: 7200,
      refresh_token: 'bb-refresh-token',
    }),
    refusal: (error) =>
      error === 'invalid_grant'
        ? { status: 400, body: { error_description: 'The specified code is not valid.', error: 'invalid_grant' } }
        : { status: 400, body: { error_description: 'Invalid OAuth client credentials', error: 'invalid_client' } },
  });

  authorize(authorizationUrl: URL): URLSearchParams {
    return this.token.approve(authorizationUrl, 'https://bitbucket.org/site/oauth2/authorize');
  }

  handlers() {
    const unauthorized = () => HttpResponse.json(apiError('Access token expired.'), { status: 401 });
    return [
      this.token.handler(),
      http.get(`${API}/user`, ({ request }) => {
        this.apiCalls.push('/2.0/user');
        return this.token.authorized(request) ? HttpResponse.json(this.user) : unauthorized();
      }),
      http.get(`${API}/user/emails`, ({ request }) => {
        const url = new URL(request.url);
        this.apiCalls.push(url.pathname + url.search);
        if (!this.token.authorized(request)) return unauthorized();
        if (this.emailsStatus === 403)
          return HttpResponse.json(
            apiError('Your credentials lack one or more required privilege scopes.', { granted: ['account'], required: ['email'] }),
            {
              status: 403,
            },
          );
        if (this.emailsStatus !== 200) return HttpResponse.json(apiError('Something went wrong'), { status: this.emailsStatus });
        return HttpResponse.json(this.emailPages[url.searchParams.get('page') ?? '1'] ?? page([]));
      }),
    ];
  }
}
