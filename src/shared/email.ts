import { domainToASCII, domainToUnicode } from 'node:url';

/** Only A to Z: `toLowerCase` would also turn the Kelvin sign (U+212A) into an ASCII k. */
export const lowerAscii = (text: string) => text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());

/** Percent signs, spaces and the characters IDNA silently drops (soft hyphen, zero-width ones). */
const HIDDEN = /[%\s\p{Default_Ignorable_Code_Point}]/u;

/**
 * A domain as access rules compare it: IDNA (punycode) ASCII, lower case. `Company.COM` and
 * `bücher.example` compare as `company.com` and `xn--bcher-kva.example`. Undefined for anything
 * that is not a plain domain of two labels or more (a wildcard, a trailing dot, an address, a
 * port), and for one that IDNA reaches only by rewriting it: percent-decoding, dropping invisible
 * characters, folding fullwidth letters. Such a spelling is written so as to pass for another.
 */
export function normalizeDomain(text: string): string | undefined {
  const given = text.trim();
  if (HIDDEN.test(given)) return undefined;
  const ascii = domainToASCII(given);
  if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/.test(ascii)) return undefined;
  // What was given is the ASCII form or the Unicode form of that domain, up to letter case.
  const spelt = given.normalize('NFC').toLowerCase();
  return spelt === ascii || spelt === domainToUnicode(ascii) ? ascii : undefined;
}

/**
 * An email address as access rules compare it: exactly one `@` (so `attacker@evil.com@company.com`
 * is no address of company.com), the local part with A to Z in lower case, the domain normalised.
 * Undefined for anything else.
 */
export function normalizeEmail(text: string): { readonly address: string; readonly domain: string } | undefined {
  const parts = text.trim().split('@');
  if (parts.length !== 2) return undefined;
  const [local, rawDomain] = parts as [string, string];
  const domain = normalizeDomain(rawDomain);
  if (!local || /[\s<>(),;:"\\]/.test(local) || HIDDEN.test(local) || domain === undefined) return undefined;
  return { address: `${lowerAscii(local)}@${domain}`, domain };
}
