import type { ErrorPresentation } from './error-table.js';
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { PorteroClaims } from '../shared/claims.js';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

const STYLE = raw(`
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 34rem; margin: 4rem auto; padding: 0 1rem; color: #1d2430; }
  h1 { font-size: 1.5rem; }
  a.provider, button { display: block; width: 100%; box-sizing: border-box; margin: .5rem 0; padding: .75rem 1rem;
    border: 1px solid #c5ccd6; border-radius: .5rem; background: #fff; color: inherit; text-decoration: none; font: inherit; cursor: pointer; }
  a.provider:hover, button:hover { background: #f2f5f9; }
  pre { background: #f2f5f9; padding: 1rem; border-radius: .5rem; overflow-x: auto; font-size: .85rem; }
  .muted { color: #5b6573; font-size: .9rem; }
`);

function layout(title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · portero</title><style>${STYLE}</style></head>
<body>${body}</body>
</html>`;
}

export interface ProviderLink {
  readonly id: string;
  readonly displayName: string;
}

function loginHref(providerId: string, returnTo: string | undefined): string {
  const query = returnTo ? `?${new URLSearchParams({ return_to: returnTo })}` : '';
  return `/login/${encodeURIComponent(providerId)}${query}`;
}

export function signInPage(basePath: string, providers: readonly ProviderLink[], returnTo?: string): Html {
  return layout(
    'Sign in',
    html`<h1>Sign in</h1>
${providers.length === 0 ? html`<p>No sign-in provider is configured.</p>` : ''}
${providers.map((provider) => html`<a class="provider" href="${basePath}${loginHref(provider.id, returnTo)}">Continue with ${provider.displayName}</a>`)}`,
  );
}

export function signedInPage(basePath: string, claims: PorteroClaims): Html {
  const who = claims.name ?? claims.preferred_username ?? claims.email ?? claims.sub;
  return layout(
    'Signed in',
    html`<h1>Signed in as ${who}</h1>
<p class="muted">These are the claims of the token portero issued; your applications receive it in a cookie and verify it against <a href="${basePath}/.well-known/jwks.json">the published keys</a>.</p>
<pre>${JSON.stringify(claims, null, 2)}</pre>
<form method="post" action="${basePath}/logout"><button type="submit">Sign out</button></form>`,
  );
}

/**
 * What GET /logout shows when another site's page sent the browser there: signing out takes a
 * press of a button on portero's own page (a POST, which another site cannot make for the user).
 */
export function signOutConfirmPage(basePath: string, returnTo: string | undefined): Html {
  const query = returnTo ? `?${new URLSearchParams({ return_to: returnTo })}` : '';
  return layout(
    'Sign out?',
    html`<h1>Sign out?</h1>
<p>A link or a page that portero cannot vouch for sent you here to sign you out. If you want to sign out, press the button; if not, you can leave this page.</p>
<form method="post" action="${basePath}/logout${query}"><button type="submit">Sign out</button></form>
<p><a href="${basePath}/">Stay signed in</a></p>`,
  );
}

/** An error's page: what happened, what to do, with which account when that is the point, a way back. */
export function errorPage(
  basePath: string,
  { title, hint, startAgain }: Pick<ErrorPresentation, 'title' | 'hint' | 'startAgain'>,
  requestId: string,
  account?: string,
): Html {
  return layout(
    title,
    html`<h1>${title}</h1>
${account ? html`<p>You signed in as <strong>${account}</strong>.</p>` : ''}
<p>${hint}</p>
${startAgain ? html`<p><a class="provider" href="${basePath}/">Start again</a></p>` : ''}
<p class="muted">Reference: ${requestId}</p>`,
  );
}
