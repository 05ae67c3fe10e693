import { importJWK, type JWTPayload, SignJWT } from 'jose';
import type { PorteroClaims } from '../../src/shared/claims.js';
import { buildKeySet, generateKeyJwk, type KeySet } from '../../src/tokens/keys.js';

// The tokens portero's OpenID Provider (issue 11) gives an app, as it signs them: with the keys of
// JWT_KEYS, portero's `iss`, the `sub` and `sid` of the user's portero token, and `aud` naming the
// app; the ID token typed `JWT` like portero's own, the access token `at+jwt` (RFC 9068). What a
// test presents where portero's own token is expected (RFC 8725 3.11).

/** The key set portero runs with once apps are configured: the ES256 signing key, and the RSA key for the apps. */
export const appsKeySet = async (): Promise<KeySet> => buildKeySet([await generateKeyJwk('ES256'), await generateKeyJwk('RS256')], 'ES256');

/** `claims` signed with the private key of `keys` for `alg`: RS256 as portero's OpenID Provider signs a token, ES256 as portero signs its own. */
export async function signedByTheProvider(
  keys: KeySet,
  claims: JWTPayload,
  typ: 'JWT' | 'at+jwt',
  alg: 'RS256' | 'ES256' = 'RS256',
): Promise<string> {
  // ES256: portero's own signing key, which the provider never holds, as a forger with it would sign.
  if (alg === keys.signing.alg) return new SignJWT(claims).setProtectedHeader({ alg, kid: keys.signing.kid, typ }).sign(keys.signing.key);
  const jwk = keys.providerJwks.find((key) => key.alg === alg);
  if (!jwk?.kid) throw new Error(`the key set holds no ${alg} key`);
  return new SignJWT(claims).setProtectedHeader({ alg, kid: jwk.kid, typ }).sign(await importJWK(jwk, alg));
}

/** The tokens app `some-app` holds for the user of `own` (portero's token), by what they are. */
export async function appTokens(keys: KeySet, own: PorteroClaims, options: { now: number; aud?: string | string[] }) {
  const { now, aud = 'some-app' } = options;
  const user = { iss: own.iss, sub: own.sub, sid: own.sid, provider: own.provider, iat: now, exp: now + 3600 };
  const idToken = { ...user, aud, auth_time: own.iat, nonce: 'n-0S6_WzA2Mj', at_hash: '77QmUPtjPfzWtF2AnpK9RQ', jti: 'id-token-1' };
  const accessToken = { ...user, aud, client_id: 'some-app', scope: 'openid', jti: 'at-1' };
  return {
    'an ID token (RS256, the key for the apps)': await signedByTheProvider(keys, idToken, 'JWT'),
    'an ID token signed with the signing key (ES256)': await signedByTheProvider(keys, idToken, 'JWT', 'ES256'),
    'an at+jwt access token': await signedByTheProvider(keys, accessToken, 'at+jwt'),
  };
}
