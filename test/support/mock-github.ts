import { HttpResponse, http, type JsonBodyType } from 'msw';
import { expect } from 'vitest';
import { CodeBook } from './oauth-server.js';

export const GITHUB_CLIENT_ID = 'Iv1.gh-client';
export const GITHUB_CLIENT_SECRET = 'gh-secret';

/** GitHub at the network edge: its OAuth token endpoint and the REST API, at any host. */
export class MockGitHub {
  user: Record<string, unknown> = {};
  emails: JsonBodyType = [];
  /** GET /user/orgs and /user/teams, as GitHub lists them; a status other than 200 answers an error. */
  orgs: JsonBodyType = [];
  teams: JsonBodyType = [];
  orgsStatus = 200;
  tokenFailure: { status: number; body: Record<string, unknown> } | undefined;
  userStatus = 200;
  emailsStatus = 200;
  readonly apiCalls: string[] = [];
  /** Makes GET /user answer without the user's id. */
  userWithoutId = false;
  /** How many code exchanges the token endpoint has answered. */
  exchanges = 0;
  readonly #book = new CodeBook<true>();

  constructor(
    readonly web = 'https://github.com',
    readonly api = 'https://api.github.com',
  ) {}

  /** The user approves the app at GitHub: the callback's parameters. */
  authorize(authorizationUrl: URL): URLSearchParams {
    expect(authorizationUrl.origin + authorizationUrl.pathname).toBe(`${this.web}/login/oauth/authorize`);
    return this.#book.issue(authorizationUrl, true);
  }

  handlers() {
    const authorized = (request: Request) => this.#book.bearerOf(request) !== undefined;
    return [
      http.post(`${this.web}/login/oauth/access_token`, async ({ request }) => {
        this.exchanges++;
        if (this.tokenFailure) return HttpResponse.json(this.tokenFailure.body, { status: this.tokenFailure.status });
        const form = new URLSearchParams(await request.text());
        const grant = this.#book.redeem(form);
        const valid = grant && form.get('client_id') === GITHUB_CLIENT_ID && form.get('client_secret') === GITHUB_CLIENT_SECRET;
        // GitHub answers errors with 200 and an error field.
        if (!valid) return HttpResponse.json({ error: 'bad_verification_code' });
        const token = this.#book.accessTokenFor(true);
        const body = { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' };
        // Without Accept: application/json, GitHub answers form-encoded.
        return request.headers.get('accept')?.includes('application/json')
          ? HttpResponse.json(body)
          : new HttpResponse(new URLSearchParams(body).toString(), { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      }),
      http.get(`${this.api}/user`, ({ request }) => {
        this.apiCalls.push('/user');
        if (!authorized(request)) return HttpResponse.json({ message: 'Bad credentials' }, { status: 401 });
        if (this.userStatus !== 200) return HttpResponse.json({ message: 'Server Error' }, { status: this.userStatus });
        if (this.userWithoutId) {
          const { id: _id, ...withoutId } = this.user;
          return HttpResponse.json(withoutId);
        }
        return HttpResponse.json(this.user);
      }),
      ...(['orgs', 'teams'] as const).map((list) =>
        http.get(`${this.api}/user/${list}`, ({ request }) => {
          this.apiCalls.push(`/user/${list}`);
          if (!authorized(request)) return HttpResponse.json({ message: 'Bad credentials' }, { status: 401 });
          if (this.orgsStatus !== 200) return HttpResponse.json({ message: 'Resource not accessible' }, { status: this.orgsStatus });
          // Paginated as GitHub documents (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api):
          // `per_page` (default 30, at most 100) entries of page `page` (from 1).
          const query = new URL(request.url).searchParams;
          const perPage = Math.min(Number(query.get('per_page') ?? 30), 100);
          const page = Number(query.get('page') ?? 1);
          const all = this[list];
          return HttpResponse.json(Array.isArray(all) ? all.slice((page - 1) * perPage, page * perPage) : all);
        }),
      ),
      http.get(`${this.api}/user/emails`, ({ request }) => {
        this.apiCalls.push('/user/emails');
        if (!authorized(request)) return HttpResponse.json({ message: 'Bad credentials' }, { status: 401 });
        if (this.emailsStatus !== 200)
          return HttpResponse.json({ message: 'Resource not accessible by integration' }, { status: this.emailsStatus });
        return HttpResponse.json(this.emails);
      }),
    ];
  }
}
