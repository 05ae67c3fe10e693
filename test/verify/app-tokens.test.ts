import { fileURLToPath } from 'node:url';
import { decodeJwt, errors } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PorteroClaims } from '../../src/shared/claims.js';
import type { KeySet } from '../../src/tokens/keys.js';
import { createVerifier } from '../../src/verify/index.js';
import { appsKeySet, appTokens } from '../support/app-tokens.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { assertPythonJwt, runPython } from '../support/python.js';
import { loopbackIsReal, serveGateway, type ServedGateway } from '../support/served-gateway.js';
import { refusal } from '../support/verify.js';

// RFC 8725 3.11 in a backend. The tokens portero's OpenID Provider gives its apps verify against
// the same JWKS, with the same issuer, and the ID token is typed JWT like portero's own: a backend
// that checks portero's token with `portero/verify` (or the Python example) must refuse them. They
// name the app in `aud`; portero's own token names no audience unless JWT_AUDIENCE is set.

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers(), loopbackIsReal);
let keys: KeySet;
let plain: ServedGateway;
let withAudience: ServedGateway;

beforeAll(async () => {
  msw.listen({ onUnhandledRequest: 'error' });
  keys = await appsKeySet();
  plain = await serveGateway(idp, { keys });
  withAudience = await serveGateway(idp, { keys, env: { JWT_AUDIENCE: 'portero-apps' } });
});
afterAll(async () => {
  await Promise.all([plain?.close(), withAudience?.close()]);
  msw.close();
});

/** A real sign-in at `gateway`, and the tokens an app would hold for that user. */
async function signedIn(gateway: ServedGateway, aud?: string | string[]) {
  const token = await gateway.signIn('u-1');
  const own = decodeJwt(token) as PorteroClaims;
  return { token, app: await appTokens(keys, own, { now: Math.floor(Date.now() / 1000), ...(aud ? { aud } : {}) }) };
}

describe("portero/verify and the tokens of portero's OpenID Provider", () => {
  it("refuses an app's ID token and access token without the audience option, and takes portero's own", async () => {
    const verifier = createVerifier({ issuer: plain.issuer, jwksUrl: plain.jwksUrl });
    const { token, app } = await signedIn(plain);
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'corp:u-1' });
    for (const [what, appToken] of Object.entries(app)) {
      const err = await refusal(verifier.verify(appToken));
      expect(err.code, what).toBe('invalid_token');
      expect(err.cause, what).toBeInstanceOf(errors.JWTClaimValidationFailed);
      // The access token fails on its typ first; the ID tokens on the audience they name.
      expect((err.cause as errors.JWTClaimValidationFailed).claim, what).toBe(what.includes('access') ? 'typ' : 'aud');
    }
  });

  it("verifyRequest refuses one beside portero's cookie, rather than take the cookie", async () => {
    const verifier = createVerifier({ issuer: plain.issuer, jwksUrl: plain.jwksUrl });
    const { token, app } = await signedIn(plain);
    for (const [what, appToken] of Object.entries(app)) {
      const headers = { authorization: `Bearer ${appToken}`, cookie: `__Host-auth_token=${token}` };
      expect((await refusal(verifier.verifyRequest(headers))).code, what).toBe('invalid_token');
    }
    await expect(verifier.verifyRequest({ cookie: `__Host-auth_token=${token}` })).resolves.toMatchObject({ sub: 'corp:u-1' });
  });

  it("with the audience option (JWT_AUDIENCE), takes portero's own token and refuses the app's, which names the app", async () => {
    const verifier = createVerifier({ issuer: withAudience.issuer, jwksUrl: withAudience.jwksUrl, audience: 'portero-apps' });
    const { token, app } = await signedIn(withAudience);
    await expect(verifier.verify(token)).resolves.toMatchObject({ aud: 'portero-apps', sub: 'corp:u-1' });
    for (const [what, appToken] of Object.entries(app)) {
      expect((await refusal(verifier.verify(appToken))).code, what).toBe('invalid_token');
    }
    // Without the option, portero's own token with JWT_AUDIENCE is refused too: the backend names what it expects.
    const unnamed = createVerifier({ issuer: withAudience.issuer, jwksUrl: withAudience.jwksUrl });
    expect(((await refusal(unnamed.verify(token))).cause as errors.JWTClaimValidationFailed).claim).toBe('aud');
  });

  it("the Python example refuses an app's ID token too (PyJWT: an audience it was not given)", async () => {
    assertPythonJwt();
    const script = fileURLToPath(new URL('../../examples/python/verify_token.py', import.meta.url));
    const { token, app } = await signedIn(plain);
    const python = (jwt: string) => runPython([script, jwt, plain.jwksUrl, plain.issuer], { PORTERO_ALGORITHMS: 'ES256,RS256' });
    expect((await python(token)).code).toBe(0);
    const refused = await python(app['an ID token (RS256, the key for the apps)']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^token refused: InvalidAudienceError/);
  });
});
