import { html, raw } from 'hono/html';
import type { OpPages } from '../flow/op-provider.js';
import { layout, type PageContext } from './layout.js';

/** oidc-provider's error codes a person can act on, in their words; any other reads as the generic one. */
const SAID: Readonly<Record<string, string>> = {
  invalid_request: 'The app sent an incomplete or malformed sign-in request.',
  invalid_client: 'This app is not registered with portero.',
  invalid_redirect_uri: 'The app asked to be sent back to an address it has not registered.',
  unauthorized_client: 'This app may not sign in this way.',
  login_required: 'You are not signed in.',
  session_not_found: 'This sign-in expired or was started in another browser.',
};

/**
 * portero's pages for the OpenID Provider: its sign-out confirmation (holding oidc-provider's own
 * form and its xsrf field; the one button signs out of portero and every app, as one session is
 * one session), the page after, and its errors, which never show an error's description as HTML.
 */
export function opPages(page: PageContext): OpPages {
  const appNamed = (name: string | undefined) => (name ? html` from <strong>${name}</strong>` : '');
  return {
    confirmSignOut: (form, appName) =>
      String(
        layout(
          page,
          'Sign out?',
          html`<h1>Sign out?</h1>
<p>You asked to sign out${appNamed(appName)}. This signs you out of ${page.brand.name} and of every app you signed in to through it.</p>
${raw(form)}
<div class="actions"><button class="button primary" type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button></div>`,
        ),
      ),
    signedOut: (appName) =>
      String(layout(page, 'Signed out', html`<h1>Signed out</h1><p>You signed out${appNamed(appName)}. You can close this page.</p>`)),
    error: (out) =>
      String(
        layout(
          page,
          'The app’s sign-in failed',
          html`<h1>The app’s sign-in failed</h1>
<p>${SAID[out.error] ?? 'The app’s sign-in request could not be completed.'}</p>
<p class="muted">Error: ${out.error}. Go back to the app and start again.</p>`,
        ),
      ),
  };
}
