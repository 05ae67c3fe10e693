import { jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { PORTERO_ALGORITHMS } from '../../src/shared/algorithms.js';
import { ephemeralKeySet } from '../../src/tokens/keys.js';
import { signJwt } from '../../src/tokens/sign.js';

const CLAIMS = { iss: 'https://gateway.test', sub: 'corp:u-1', iat: 1_700_000_000, exp: 1_700_003_600, sid: 's', name: 'Ada Lovelace ✓' };

describe.each(PORTERO_ALGORITHMS)('a token signed by node:crypto, %s', (alg) => {
  it('verifies with jose against the published keys, and is spelled as jose spells it', async () => {
    const keys = await ephemeralKeySet(alg);
    const header = { alg, kid: keys.signing.kid, typ: 'JWT' } as const;
    const token = signJwt(header, CLAIMS, keys.signing.key);
    const { payload, protectedHeader } = await jwtVerify(token, keys.verifier, {
      algorithms: [alg],
      currentDate: new Date(1_700_000_100_000),
    });
    expect(payload).toEqual(CLAIMS);
    expect(protectedHeader).toEqual(header);
    const byJose = await new SignJWT(CLAIMS).setProtectedHeader(header).sign(keys.signing.key);
    const [h, p, signature] = token.split('.') as [string, string, string];
    expect(`${h}.${p}`).toBe(byJose.split('.').slice(0, 2).join('.'));
    // Ed25519 and RSASSA-PKCS1-v1_5 are deterministic: the same token. ECDSA is not, but its
    // signature must be r ‖ s (64 bytes), not the DER that node:crypto writes by default.
    if (alg === 'ES256') expect(Buffer.from(signature, 'base64url')).toHaveLength(64);
    else expect(token).toBe(byJose);
  });
});
