import { type HttpHandler, HttpResponse, http } from 'msw';

/**
 * Microsoft Graph's `GET /v1.0/me/transitiveMemberOf` at the network edge, as documented at
 * https://learn.microsoft.com/graph/api/user-list-transitivememberof: a `directoryObject`
 * collection (`value`, each entry with its `@odata.type`), `$top` pages (100 by default, 999 at
 * most) linked by `@odata.nextLink` with a `$skiptoken`; 401 without a valid bearer token.
 * `whoIs` says whose access token a request carries (the OpenID provider's mock that issued it).
 */
export class MockGraph {
  static readonly URL = 'https://graph.microsoft.com/v1.0/me/transitiveMemberOf';
  /** Each user's memberships by `sub`: groups, and other directory objects (roles, units) with their type. */
  readonly memberships = new Map<string, { id: string; type?: string }[]>();
  /** Every request's URL, in order. */
  readonly requests: string[] = [];
  /** Makes Graph answer this status (403: the token lacks the permission). */
  status: number | undefined;
  /** Replaces the `@odata.nextLink` of every page. */
  nextLinkOverride: string | undefined;

  constructor(private readonly whoIs: (request: Request) => { sub: string } | undefined) {}

  handlers(): HttpHandler[] {
    return [
      http.get(MockGraph.URL, ({ request }) => {
        this.requests.push(request.url);
        const user = this.whoIs(request);
        if (!user) return HttpResponse.json({ error: { code: 'InvalidAuthenticationToken' } }, { status: 401 });
        if (this.status) return HttpResponse.json({ error: { code: 'Authorization_RequestDenied' } }, { status: this.status });
        const url = new URL(request.url);
        const top = Math.min(Number(url.searchParams.get('$top') ?? 100), 999);
        const skip = Number(url.searchParams.get('$skiptoken') ?? 0);
        const all = this.memberships.get(user.sub) ?? [];
        const value = all.slice(skip, skip + top).map((entry) => ({ '@odata.type': entry.type ?? '#microsoft.graph.group', id: entry.id }));
        // Spelt as Graph spells it: the request's query as sent, `$` unescaped, and a `$skiptoken`.
        const next = `${request.url.replace(/&\$skiptoken=[^&]*/, '')}&$skiptoken=${skip + top}`;
        const nextLink = this.nextLinkOverride ?? (skip + top < all.length ? next : undefined);
        return HttpResponse.json({
          '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#directoryObjects(id)',
          value,
          ...(nextLink ? { '@odata.nextLink': nextLink } : {}),
        });
      }),
    ];
  }
}
