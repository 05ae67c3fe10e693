import { secureHeaders } from 'hono/secure-headers';
import type { BrandConfig } from '../config/types.js';
import { STYLE_SOURCE } from './layout.js';

/**
 * Whether `origin` is a CSP host source as it stands: a scheme, a host of DNS characters (or an IP
 * address, or `*.` before one) and a port. A provider's issuer is any URL its setting held, and
 * its origin may hold a `;` (`https://idp.example;sandbox`), which would end `form-action` and
 * start a directive of its own: such an origin is left out (no DNS name holds one).
 */
const isCspSource = (origin: string) => /^https?:\/\/(?:\*\.)?(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i.test(origin);

/**
 * BRAND_LOGO_URL as a CSP source that matches that one URL: origin and path (a query is not part
 * of a source, and browsers ignore the request's query when matching), with `;` and `,`, which
 * would end the source or the directive, percent-encoded as CSP 3 asks.
 */
function logoSource(logoUrl: string): string | undefined {
  const url = new URL(logoUrl);
  // A host with a `;` of its own would start a directive: such a logo is not allowed at all.
  if (!isCspSource(url.origin)) return undefined;
  return `${url.origin}${url.pathname.replaceAll(';', '%3B').replaceAll(',', '%2C')}`;
}

/** BRAND_LOGO_URL's source for img-src, when it has one. */
const logoSources = (logoUrl: string | undefined): string[] => {
  const source = logoUrl ? logoSource(logoUrl) : undefined;
  return source ? [source] : [];
};

/**
 * The security headers of every response: pages run no script (`default-src 'none'`), take their
 * one stylesheet by its hash, images from portero itself (the favicon) and the operator's logo
 * only, are never framed, and post forms to portero only.
 */
export function securityHeaders(options: {
  readonly secure: boolean;
  readonly brand: BrandConfig;
  /**
   * Where a form of portero's may end up besides portero: a sign-out posts to /logout, which
   * redirects to `return_to` (an allowed origin) or to the provider's end_session_endpoint, and
   * browsers hold a form's redirects to `form-action` too.
   */
  readonly formTargets?: readonly string[];
}) {
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      styleSrc: [STYLE_SOURCE],
      imgSrc: ["'self'", ...logoSources(options.brand.logoUrl)],
      formAction: ["'self'", ...(options.formTargets ?? []).filter(isCspSource)],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
    },
    // No page of portero's is ever framed (clickjacking a sign-in or sign-out button): both headers say so.
    xFrameOptions: 'DENY',
    // A page's address (a callback's code and state) never travels to another site as a Referer.
    referrerPolicy: 'no-referrer',
    strictTransportSecurity: options.secure ? 'max-age=31536000; includeSubDomains' : false,
  });
}
