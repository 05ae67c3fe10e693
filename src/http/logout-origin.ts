import { CROSS_SITE_REQUEST, PorteroError } from '../errors.js';
import { isAllowedOrigin, type ReturnToPolicy } from '../flow/return-to.js';

/**
 * Where a request to /logout comes from, as the browser says: `Sec-Fetch-Site` (set by the browser,
 * no page can forge it), and the origin of the page that made the request, from `Origin` or else
 * `Referer`. A page sent with `Referrer-Policy: no-referrer` (portero's own) makes a POST with
 * `Origin: null`; a page may also send no Referer at all.
 */
export interface RequestMarkers {
  readonly fetchSite: string | undefined;
  /** Origin's value, or Referer's origin; `null` for `Origin: null` or a Referer that is no URL. */
  readonly origin: string | undefined;
  /** Any of Origin, Referer, `Sec-Fetch-*`: a browser made this request. */
  readonly browser: boolean;
  readonly prefetch: boolean;
  /** Sec-Fetch-Mode is `navigate` and Sec-Fetch-Dest `document`, or the browser sent neither. */
  readonly navigation: boolean;
}

export function requestMarkers(headers: Headers): RequestMarkers {
  const origin = headers.get('origin') ?? undefined;
  const referer = headers.get('referer') ?? undefined;
  const fetchHeaders = ['sec-fetch-site', 'sec-fetch-mode', 'sec-fetch-dest', 'sec-fetch-user'].some((name) => headers.has(name));
  const purpose = `${headers.get('sec-purpose') ?? ''} ${headers.get('purpose') ?? ''}`;
  return {
    fetchSite: headers.get('sec-fetch-site')?.toLowerCase() ?? undefined,
    origin: origin ?? (referer === undefined ? undefined : refererOrigin(referer)),
    browser: origin !== undefined || referer !== undefined || fetchHeaders,
    prefetch: /prefetch|prerender/i.test(purpose),
    navigation: isNavigation(headers.get('sec-fetch-mode'), headers.get('sec-fetch-dest')),
  };
}

function isNavigation(mode: string | null, dest: string | null): boolean {
  return (mode === null || mode.toLowerCase() === 'navigate') && (dest === null || dest.toLowerCase() === 'document');
}

function refererOrigin(referer: string): string {
  try {
    return new URL(referer).origin;
  } catch {
    return 'null';
  }
}

/**
 * Whether a GET /logout signs out at once; otherwise it shows a confirmation page whose button
 * POSTs. GET /logout, by case (a page of another site can link there, and the browser sends the
 * SameSite=Lax token cookie along, so such a link alone must sign no one out):
 * - `Sec-Fetch-Site: cross-site`, or a prefetch or prerender (`Sec-Purpose`, `Purpose`): the
 *   confirmation page, even for a link on an allowed app of another site (one more click);
 * - an Origin or Referer: signs out if it is portero's origin or an ALLOWED_REDIRECTS one, else the
 *   confirmation page (a same-site page that is not an allowed app, too);
 * - `Origin: null`: signs out only with `Sec-Fetch-Site: same-origin`;
 * - neither: signs out with `Sec-Fetch-Site` `same-origin` or `none` (typed, a bookmark); a
 *   `same-site` page that hides its Referer (`rel=noreferrer`, `referrerpolicy=no-referrer`) may be
 *   any page of the site, an allowed app or not, so it gets the confirmation page, as does a browser
 *   without Sec-Fetch-Site (too old to send it, following a link from a page with no Referer);
 * - whatever else, a request from another origin that the browser says is no top-level navigation
 *   (`Sec-Fetch-Mode` other than `navigate`, `Sec-Fetch-Dest` other than `document`: an `<img>`, a
 *   `fetch()`) signs no one out: a person signing out navigates.
 *
 * POST /logout: see {@link checkLogoutPost}.
 */
export function signsOutByGet(markers: RequestMarkers, policy: ReturnToPolicy): boolean {
  if (markers.prefetch || markers.fetchSite === 'cross-site') return false;
  // An <img> or a fetch() of a same-site page carries the Lax cookie too; only portero's own
  // origin, where no third party runs script, may sign out by other than a navigation.
  if (!markers.navigation && markers.fetchSite !== 'same-origin') return false;
  if (markers.origin === 'null') return markers.fetchSite === 'same-origin';
  if (markers.origin !== undefined) return isAllowedOrigin(markers.origin, policy);
  // A browser without Sec-Fetch-Site (older than 2023 for Safari) following a link from a page
  // that sends no Referer could be any site's: it asks first.
  return markers.fetchSite === 'same-origin' || markers.fetchSite === 'none';
}

/**
 * Refuses (`cross_site_request`, 403) a POST /logout that a page of another site made. Accepted: an
 * Origin (or, without one, a Referer) of portero's own or of an allowed origin; `Sec-Fetch-Site:
 * same-origin` (portero's own pages, whose no-referrer policy makes the browser send `Origin: null`);
 * and a request with no browser marker at all. The last is safe: every current browser sends Origin
 * on a cross-origin POST (Fetch standard; Chrome, Safari, Firefox since 70), so a POST without
 * Origin, Referer or any `Sec-Fetch-*` is no form on another site's page but an API client (curl
 * with a bearer token), which no third party can make act. And even a browser too old to send them
 * does not send the SameSite=Lax token cookie with a cross-site POST, so it has nothing to revoke.
 */
export function checkLogoutPost(markers: RequestMarkers, policy: ReturnToPolicy, route = '/logout'): void {
  if (markers.origin !== undefined && markers.origin !== 'null') {
    if (isAllowedOrigin(markers.origin, policy)) return;
  } else if (markers.fetchSite === 'same-origin' || !markers.browser) {
    return;
  }
  throw new PorteroError(CROSS_SITE_REQUEST, `POST ${route} from another site`, {
    detail: { sec_fetch_site: markers.fetchSite?.slice(0, 16), origin: markers.origin?.slice(0, 200) },
  });
}
