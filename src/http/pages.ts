import { html } from 'hono/html';
import type { PorteroClaims } from '../shared/claims.js';
import type { ErrorPresentation } from './error-table.js';
import { type Html, layout, type PageContext } from './layout.js';
import { providerMark } from './marks.js';

export type { PageContext } from './layout.js';

/** A provider as the sign-in page lists it. */
export interface ProviderLink {
  readonly id: string;
  /** `PROVIDER_<ID>_NAME`, else the preset's (a generic one's: its issuer's host). */
  readonly displayName: string;
  /** `ProviderDefinition.type`: which mark it shows. */
  readonly type: string;
}

function loginHref(providerId: string, returnTo: string | undefined, signInAgain: boolean): string {
  const params = new URLSearchParams({ ...(returnTo ? { return_to: returnTo } : {}), ...(signInAgain ? { prompt: 'login' } : {}) });
  const query = params.size > 0 ? `?${params}` : '';
  return `/login/${encodeURIComponent(providerId)}${query}`;
}

/** The providers, each a link (a keyboard reaches each with Tab) with its mark and name. */
/** With `signInAgain`, each link asks its provider to authenticate the user anew (`prompt=login`). */
export function signInPage(page: PageContext, providers: readonly ProviderLink[], returnTo?: string, signInAgain = false): Html {
  return layout(
    page,
    'Sign in',
    html`<h1>Sign in</h1>
${
  providers.length === 0
    ? html`<p>No sign-in provider is configured. Tell the people who run ${page.brand.name}.</p>`
    : html`<p class="muted">Choose how to sign in to ${page.brand.name}.</p>
<ul class="list">
${providers.map(
  (provider) =>
    html`<li><a class="button" href="${page.basePath}${loginHref(provider.id, returnTo, signInAgain)}">${providerMark(provider.type)}<span>Continue with ${provider.displayName}</span></a></li>
`,
)}</ul>`
}`,
  );
}

/** The sign-out button: a POST from portero's own page, which is how `/logout` knows the person asked. */
const signOutForm = (basePath: string, query = '', label = 'Sign out', kind = 'primary') =>
  html`<form method="post" action="${basePath}/logout${query}"><button class="button ${kind}" type="submit">${label}</button></form>`;

export function signedInPage(page: PageContext, claims: PorteroClaims): Html {
  const who = claims.name ?? claims.preferred_username ?? claims.email ?? claims.sub;
  return layout(
    page,
    'Signed in',
    html`<h1>Signed in as ${who}</h1>
<p class="muted">These are the claims of the token portero issued; your applications receive it in a cookie and verify it against <a href="${page.basePath}/.well-known/jwks.json">the published keys</a>.</p>
<pre>${JSON.stringify(claims, null, 2)}</pre>
<div class="actions">${signOutForm(page.basePath)}${signOutForm(page.basePath, '?everywhere=true', 'Sign out everywhere', 'centered')}</div>
<p class="muted">Sign out everywhere ends every session of yours, on every browser and device.</p>`,
  );
}

/**
 * What GET /logout shows when another site's page sent the browser there: signing out takes a
 * press of a button on portero's own page (a POST, which another site cannot make for the user).
 */
export function signOutConfirmPage(page: PageContext, returnTo: string | undefined): Html {
  const query = returnTo ? `?${new URLSearchParams({ return_to: returnTo })}` : '';
  return layout(
    page,
    'Sign out?',
    html`<h1>Sign out?</h1>
<p>A link or a page that portero cannot vouch for sent you here to sign you out. If you want to sign out, press the button; if not, you can leave this page.</p>
<div class="actions">${signOutForm(page.basePath, query)}<a class="button" href="${page.basePath}/">Stay signed in</a></div>`,
  );
}

/** An error's page: what happened, what to do, with which account when that is the point, a way on. */
export function errorPage(
  page: PageContext,
  { title, hint, startAgain }: Pick<ErrorPresentation, 'title' | 'hint' | 'startAgain'>,
  requestId: string,
  account?: string,
): Html {
  return layout(
    page,
    title,
    html`<h1>${title}</h1>
${account ? html`<p>You signed in as <strong>${account}</strong>.</p>` : ''}
<p>${hint}</p>
${startAgain ? html`<div class="actions"><a class="button primary" href="${page.basePath}/">Start again</a></div>` : ''}
<p class="muted">Reference: ${requestId}</p>`,
  );
}
