import { generateKeyPair, SignJWT } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, expect, vi } from 'vitest';
import { createVerifier, PorteroTokenError } from '../../src/verify/index.js';
export { later } from './clock.js';
import { MockOidcProvider } from './mock-oidc.js';
import { loopbackIsReal, serveGateway, type ServedGateway } from './served-gateway.js';

/**
 * What every `portero/verify` test file starts from: the mock provider and msw (loopback real,
 * anything unexpected fails the test), a gateway served on 127.0.0.1, a verifier of its tokens, and
 * a token from a real sign-in. Closes them after the file; puts the clock back after each test.
 */
export async function verifyFixture() {
  const idp = await new MockOidcProvider().init();
  const msw = setupServer(...idp.handlers(), loopbackIsReal);
  let gateway: ServedGateway | undefined;
  msw.listen({ onUnhandledRequest: 'error' });
  afterEach(() => {
    vi.useRealTimers();
    msw.resetHandlers();
  });
  afterAll(async () => {
    await gateway?.close();
    msw.close();
  });

  gateway = await serveGateway(idp);
  const verifier = createVerifier({ issuer: gateway.issuer, jwksUrl: gateway.jwksUrl });
  const token = await gateway.signIn('u-7', {
    email: 'grace@example.com',
    email_verified: true,
    name: 'Grace Hopper',
    preferred_username: 'grace',
    picture: 'https://example.com/grace.png',
  });
  return { idp, msw, gateway, verifier, token };
}

/** The PorteroTokenError a refused verification threw. */
export async function refusal(promise: Promise<unknown>): Promise<PorteroTokenError> {
  const err = await promise.then(
    (claims) => expect.fail(`accepted: ${JSON.stringify(claims)}`),
    (err: unknown) => err,
  );
  expect(err).toBeInstanceOf(PorteroTokenError);
  return err as PorteroTokenError;
}

/** A token signed by a key portero does not publish, with a kid of its own. */
export async function foreignToken(claims: Record<string, unknown>): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: `foreign-${Math.random()}`, typ: 'JWT' }).sign(privateKey);
}
