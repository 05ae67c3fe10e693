import { MockOidcProvider } from './mock-oidc.js';

/** The tenant of every personal Microsoft account. */
export const CONSUMERS_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
/** A work tenant, and another one. */
export const TENANT = '3f2b6c1e-8d4a-4e7b-9c2d-5a1f0e6b7c8d';
export const OTHER_TENANT = '7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b';

export const entraIssuer = (tenant: string) => `https://login.microsoftonline.com/${tenant}/v2.0`;

/**
 * Entra ID's OpenID endpoint at `https://login.microsoftonline.com/<segment>/v2.0`, as its
 * discovery documents answer: one tenant's names that tenant's issuer (also when the segment is
 * a verified domain); `common` and `organizations` name the template
 * `https://login.microsoftonline.com/{tenantid}/v2.0`; `consumers` names the consumers tenant's.
 * Entra sends no `iss` with its callbacks (it does not implement RFC 9207).
 */
export function entraEndpoint(segment: string, discoveryIssuer = entraIssuer(segment)): Promise<MockOidcProvider> {
  return new MockOidcProvider(entraIssuer(segment), { discoveryIssuer, sendsIss: false }).init();
}

export const multiTenantEndpoint = (segment: 'common' | 'organizations') => entraEndpoint(segment, entraIssuer('{tenantid}'));

/**
 * The claims of an Entra v2.0 ID token beside `sub`, `aud`, `nonce` and the times, as in the
 * sample of https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference: its
 * tenant's issuer, `tid`, `oid` (the user's object id in that tenant), `name` and
 * `preferred_username`. No `email_verified`, ever; `email` and `xms_edov` are optional claims
 * the app registration adds (Token configuration).
 */
export function entraClaims(tid: string, claims: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ver: '2.0',
    iss: entraIssuer(tid),
    tid,
    oid: '00000000-0000-0000-66f3-3332eca7ea81',
    name: 'Abe Lincoln',
    preferred_username: 'AbeLi@contoso.com',
    aio: 'Df2UVXL1ix!lMCWMSOJBcFatzcGfvFGhjKv8q5g0x732dR5MB5BisvGQO7YWByjd8iQDLq',
    ...claims,
  };
}

/** A documented `sub`: pairwise, unique to the user and the app registration. */
export const ENTRA_SUB = 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ';
