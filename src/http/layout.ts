import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { BrandConfig } from '../config/types.js';
import type { AppEnv } from './types.js';

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** What every page needs beside its own content: where portero's routes are, and whose product it is. */
export interface PageContext {
  /** PUBLIC_URL's path, for links ('' when PUBLIC_URL has none). */
  readonly basePath: string;
  readonly brand: BrandConfig;
}

export const pageContext = (c: Context<AppEnv>): PageContext => ({ basePath: c.get('basePath'), brand: c.get('brand') });

/**
 * The one stylesheet of every page. No page runs a script: everything works with links, forms and
 * this. Narrow screens get the card edge to edge; focus is always visible (keyboard users).
 */
const STYLESHEET = `
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; min-height: 100vh; background: #eef1f5; color: #1d2430; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.page { max-width: 28rem; margin: 0 auto; padding: 3rem 1rem; }
.brand { display: flex; align-items: center; justify-content: center; gap: .75rem; margin: 0 0 1.5rem; font-size: 1.25rem; font-weight: 600; overflow-wrap: anywhere; }
.brand img { display: block; max-height: 3rem; max-width: 12rem; width: auto; height: auto; }
.card { background: #fff; border: 1px solid #d7dde5; border-radius: .75rem; padding: 2rem 1.5rem; box-shadow: 0 1px 3px rgba(16, 24, 40, .08); }
.card > :last-child { margin-bottom: 0; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 1rem; overflow-wrap: anywhere; }
p { margin: 0 0 1rem; }
a { color: #1d4ed8; }
.list { list-style: none; margin: 1.5rem 0 0; padding: 0; display: grid; gap: .75rem; }
.actions { display: grid; gap: .75rem; margin: 1.5rem 0 1rem; }
.actions form { margin: 0; }
.button { display: flex; align-items: center; gap: .75rem; width: 100%; min-height: 3rem; margin: 0; padding: .625rem 1rem;
  border: 1px solid #c5ccd6; border-radius: .5rem; background: #fff; color: inherit; font: inherit; font-weight: 500;
  text-align: left; text-decoration: none; cursor: pointer; overflow-wrap: anywhere; }
.button:hover { background: #f2f5f9; border-color: #8f9bab; }
.button.primary { justify-content: center; background: #1d4ed8; border-color: #1d4ed8; color: #fff; }
.button.primary:hover { background: #1e40af; }
.button.centered { justify-content: center; }
.button .mark { flex: none; width: 1.5rem; height: 1.5rem; }
:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 2px; }
pre { background: #f2f5f9; padding: 1rem; border-radius: .5rem; overflow-x: auto; font-size: .85rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.muted { color: #5b6573; font-size: .9rem; }
@media (max-width: 30rem) {
  .page { padding: 1rem 0; }
  .card { border-width: 1px 0; border-radius: 0; padding: 1.5rem 1rem; }
}
`;

/**
 * The Content-Security-Policy source that allows this stylesheet and no other: its SHA-256, so no
 * `'unsafe-inline'` and no per-response nonce is needed (the text never changes while running).
 */
export const STYLE_SOURCE = `'sha256-${createHash('sha256').update(STYLESHEET).digest('base64')}'`;

/** The header of every page: the operator's logo (when set) and product name. */
function brandHeader({ name, logoUrl }: BrandConfig): Html {
  // The name is written beside the logo, so the image adds nothing for a screen reader: alt="".
  return html`<header class="brand">${logoUrl ? html`<img src="${logoUrl}" alt="">` : ''}<span>${name}</span></header>`;
}

/** Every portero page: one look, one stylesheet, the brand, a favicon; `body` goes in the card. */
export function layout({ basePath, brand }: PageContext, title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${title} · ${brand.name}</title>
<link rel="icon" href="${basePath}/favicon.svg" type="image/svg+xml">
<style>${raw(STYLESHEET)}</style></head>
<body><div class="page">
${brandHeader(brand)}
<main class="card">
${body}
</main>
</div></body>
</html>`;
}
