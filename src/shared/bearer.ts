const BEARER = /^Bearer\s+(\S+)$/i;

/** The token of an `Authorization: Bearer <token>` header (RFC 6750, 2.1); undefined for anything else. */
export function bearerToken(authorization: string | null | undefined): string | undefined {
  return authorization?.match(BEARER)?.[1];
}
