import { domainToASCII } from 'node:url';

/**
 * A domain as access rules compare it: IDNA (punycode) ASCII, lower case. `Company.COM` and
 * `bücher.example` compare as `company.com` and `xn--bcher-kva.example`. Undefined for anything
 * that is not a plain domain of two labels or more: a wildcard, a trailing dot, an address, a port.
 */
export function normalizeDomain(text: string): string | undefined {
  const ascii = domainToASCII(text.trim());
  return /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/.test(ascii) ? ascii : undefined;
}

/**
 * An email address as access rules compare it: exactly one `@` (so `attacker@evil.com@company.com`
 * is no address of company.com), the local part in lower case, the domain normalised. Undefined
 * for anything else.
 */
export function normalizeEmail(text: string): { readonly address: string; readonly domain: string } | undefined {
  const parts = text.trim().split('@');
  if (parts.length !== 2) return undefined;
  const [local, rawDomain] = parts as [string, string];
  const domain = normalizeDomain(rawDomain);
  if (!local || /[\s<>(),;:"\\]/.test(local) || domain === undefined) return undefined;
  return { address: `${local.toLowerCase()}@${domain}`, domain };
}
