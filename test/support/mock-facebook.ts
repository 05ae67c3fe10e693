import { HttpResponse, http, type JsonBodyType } from 'msw';
import { MockTokenEndpoint } from './oauth-server.js';

/**
 * The Graph API version this mock answers on, written out rather than taken from the preset, so a
 * preset that moves to another version fails here until the mock (and its shapes) are checked for it.
 */
const GRAPH_API_VERSION = 'v24.0';

export const FACEBOOK_APP_ID = '1234567890123456';
export const FACEBOOK_APP_SECRET = 'fb-app-secret';
export const FACEBOOK_DIALOG = `https://www.facebook.com/${GRAPH_API_VERSION}/dialog/oauth`;
const GRAPH = `https://graph.facebook.com/${GRAPH_API_VERSION}`;

/**
 * A Graph API error, as Facebook answers every one: an `error` object, not RFC 6749's string
 * (https://developers.facebook.com/docs/graph-api/guides/error-handling).
 */
export const graphError = (message: string, code: number, subcode?: number) => ({
  error: { message, type: 'OAuthException', code, ...(subcode ? { error_subcode: subcode } : {}), fbtrace_id: 'AbCdEf123' },
});

/**
 * Facebook Login at the network edge: the token endpoint (app secret as a parameter, the answer of
 * https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow#exchangecode) and
 * the Graph API's `GET /me`, answering only the `fields` asked for, as the Graph API does.
 */
export class MockFacebook {
  /** The user, with every field Facebook could show; `/me` answers those the request names. */
  user: Record<string, JsonBodyType> = {};
  meStatus = 200;
  /** The Graph API requests made, path and query. */
  readonly apiCalls: string[] = [];
  readonly token = new MockTokenEndpoint({
    url: `${GRAPH}/oauth/access_token`,
    clientId: FACEBOOK_APP_ID,
    clientSecret: FACEBOOK_APP_SECRET,
    methods: ['client_secret_post'],
    answer: (accessToken) => ({ access_token: accessToken, token_type: 'bearer', expires_in: 5183944 }),
    refusal: (error) =>
      error === 'invalid_grant'
        ? { status: 400, body: graphError('This authorization code has been used.', 100, 36009) }
        : { status: 400, body: graphError('Error validating client secret.', 1) },
  });

  authorize(authorizationUrl: URL): URLSearchParams {
    return this.token.approve(authorizationUrl, FACEBOOK_DIALOG);
  }

  handlers() {
    return [
      this.token.handler(),
      http.get(`${GRAPH}/me`, ({ request }) => {
        const url = new URL(request.url);
        this.apiCalls.push(url.pathname + url.search);
        if (!this.token.authorized(request)) return HttpResponse.json(graphError('Invalid OAuth access token data.', 190), { status: 400 });
        if (this.meStatus !== 200) return HttpResponse.json(graphError('An unexpected error has occurred.', 2), { status: this.meStatus });
        const fields = (url.searchParams.get('fields') ?? 'id,name').split(',');
        return HttpResponse.json(Object.fromEntries(Object.entries(this.user).filter(([field]) => fields.includes(field))));
      }),
    ];
  }
}
