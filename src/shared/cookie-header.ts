/** The names of the cookies in a `Cookie` request header, in the order sent, as sent. */
export function cookieNames(header: string | null | undefined): string[] {
  if (!header) return [];
  return header
    .split(';')
    .filter((pair) => pair.includes('='))
    .map((pair) => pair.slice(0, pair.indexOf('=')).trim());
}

/**
 * Every value of cookie `name` in a `Cookie` request header, in the order sent, exactly as sent:
 * not percent-decoded, not unquoted. portero writes its cookies in one encoding only (a JWT, or a
 * base64url value and signature, none of which percent-encoding changes), so a value in any other
 * spelling is simply not the value portero wrote. A name counts only when it matches exactly.
 */
export function cookieValues(header: string | null | undefined, name: string): string[] {
  if (!header) return [];
  const values: string[] = [];
  for (const pair of header.split(';')) {
    const separator = pair.indexOf('=');
    if (separator === -1) continue;
    if (pair.slice(0, separator).trim() === name) values.push(pair.slice(separator + 1).trim());
  }
  return values;
}

/**
 * The token cookie of a request: absent, one value, or several. Several cookies of one name reach
 * a server when another site of the domain planted one (cookie tossing: a sibling subdomain sets
 * `auth_token` for `.example.com` or a narrower path, and browsers send it first); which of them is
 * portero's cannot be told, so a request carrying more than one counts as not signed in.
 */
export type TokenCookie = { readonly kind: 'none' } | { readonly kind: 'one'; readonly token: string } | { readonly kind: 'several' };

export function tokenCookie(header: string | null | undefined, name: string): TokenCookie {
  const values = cookieValues(header, name).filter((value) => value !== '');
  if (values.length > 1) return { kind: 'several' };
  const [token] = values;
  return token === undefined ? { kind: 'none' } : { kind: 'one', token };
}
