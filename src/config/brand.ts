import { isHttpAllowed } from '../shared/loopback.js';
import type { EnvReader } from './reader.js';
import type { BrandConfig } from './types.js';

const DEFAULT_BRAND_NAME = 'portero';
const MAX_BRAND_NAME = 60;

/** BRAND_NAME: shown in every page's header and title; plain text (escaped in HTML), one line. */
function brandName(reader: EnvReader): string {
  const name = reader.text('BRAND_NAME') ?? DEFAULT_BRAND_NAME;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  if (/[\u0000-\u001f\u007f]/.test(name)) reader.problem('BRAND_NAME must be one line of text, without control characters');
  if (name.length > MAX_BRAND_NAME) reader.problem(`BRAND_NAME must be at most ${MAX_BRAND_NAME} characters, got ${name.length}`);
  return name;
}

/**
 * BRAND_LOGO_URL: the image every page shows beside BRAND_NAME. Absolute, https (plain http on a
 * loopback host only, as for providers), naming one file: the page's Content-Security-Policy
 * allows exactly that URL in `img-src`, so no other image of its origin can load on portero's pages.
 */
function brandLogo(reader: EnvReader): string | undefined {
  const raw = reader.text('BRAND_LOGO_URL');
  if (raw === undefined) return undefined;
  if (!URL.canParse(raw)) {
    reader.problem(`BRAND_LOGO_URL must be an absolute URL (like https://cdn.example.com/logo.svg), got ${JSON.stringify(raw)}`);
    return undefined;
  }
  const url = new URL(raw);
  const problems = [
    ...(isHttpAllowed(url) ? [] : ['be https (plain http only on a loopback host)']),
    ...(url.username || url.password ? ['carry no user name or password'] : []),
    ...(url.hash ? ['carry no #fragment'] : []),
    // A path ending in / would allow, in the CSP, every image under it: it must name the file.
    ...(url.pathname.endsWith('/') ? ['name the image file, not a folder'] : []),
  ];
  if (problems.length === 0) return url.href;
  reader.problem(`BRAND_LOGO_URL must ${problems.join(', ')}, got ${JSON.stringify(raw)}`);
  return undefined;
}

/** The operator's product name and logo on every page. */
export function brand(reader: EnvReader): BrandConfig {
  const logoUrl = brandLogo(reader);
  return { name: brandName(reader), ...(logoUrl ? { logoUrl } : {}) };
}
