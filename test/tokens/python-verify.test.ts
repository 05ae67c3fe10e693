import { fileURLToPath } from 'node:url';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../support/app.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import type { Exited } from '../support/process.js';
import { assertPythonJwt, runPython } from '../support/python.js';
import { serveGateway, tamper, type ServedGateway } from '../support/served-gateway.js';

// A downstream backend that is not written in TypeScript checks portero's tokens with its own JWT
// library: here Python's PyJWT, fetching the keys from the gateway over real HTTP, exactly as
// examples/python/verify_token.py shows. It must accept every algorithm portero signs with.

const SCRIPT = fileURLToPath(new URL('../../examples/python/verify_token.py', import.meta.url));

const idp = await new MockOidcProvider().init();
// Only the provider is mocked. The browser reaches the gateway in-process; only Python uses the
// network, from its own process, which msw does not see.
const msw = setupServer(...idp.handlers());

beforeAll(() => {
  assertPythonJwt();
  msw.listen({ onUnhandledRequest: 'error' });
});
afterAll(() => msw.close());

/** Runs examples/python/verify_token.py. Asynchronous: the JWKS it fetches is served by this process. */
const verifyInPython = (...args: string[]) => runPython(SCRIPT, ...args);

function acceptedClaims(result: Exited): Record<string, unknown> {
  expect(result.code, `Python refused the token: ${result.stderr}`).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** The one-line reason Python printed for refusing a token. */
function refusal(result: Exited): string {
  expect(result.code, `Python accepted the token:\n${result.stdout}`).toBe(1);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe.each(['ES256', 'EdDSA', 'RS256'] as const)('PyJWT verifies %s tokens', (alg) => {
  let gateway: ServedGateway;
  beforeAll(async () => {
    gateway = await serveGateway(idp, { env: { JWT_ALG: alg } });
  });
  afterAll(() => gateway.close());

  it('with the issuer and jwks_uri of the discovery document, fetching the keys over HTTP', async () => {
    // The served gateway read these from its discovery document, as a backend configures itself.
    expect(gateway.issuer).toBe(gateway.origin);
    expect(gateway.jwksUrl).toBe(`${gateway.origin}/.well-known/jwks.json`);

    const token = await gateway.signIn('u-7', { email: 'grace@example.com', email_verified: true, name: 'Grace Hopper' });
    expect(decodeProtectedHeader(token).alg).toBe(alg);
    const claims = acceptedClaims(await verifyInPython(token, gateway.jwksUrl, gateway.issuer));
    expect(claims).toMatchObject({ iss: gateway.origin, sub: 'corp:u-7', provider: 'corp', email: 'grace@example.com', name: 'Grace Hopper' });
    expect(claims).toEqual(decodeJwt(token));
  });

  it('and refuses the token with a claim changed', async () => {
    const { jwksUrl: jwks_uri, issuer } = gateway;
    const forged = tamper(await gateway.signIn('u-8'), { sub: 'corp:admin' });
    expect(refusal(await verifyInPython(forged, jwks_uri, issuer))).toMatch(/^token refused: InvalidSignatureError/);
  });

  it('and refuses a token from another issuer', async () => {
    const { jwksUrl: jwks_uri } = gateway;
    const token = await gateway.signIn('u-9');
    expect(refusal(await verifyInPython(token, jwks_uri, 'https://someone-else.example'))).toMatch(/^token refused: InvalidIssuerError/);
  });
});

describe('PyJWT with JWT_AUDIENCE=downstream-app', () => {
  let gateway: ServedGateway;
  beforeAll(async () => {
    gateway = await serveGateway(idp, { env: { JWT_AUDIENCE: 'downstream-app' } });
  });
  afterAll(() => gateway.close());

  it('accepts the token for that audience', async () => {
    const { jwksUrl: jwks_uri, issuer } = gateway;
    const claims = acceptedClaims(await verifyInPython(await gateway.signIn('u-1'), jwks_uri, issuer, 'downstream-app'));
    expect(claims).toMatchObject({ aud: 'downstream-app', sub: 'corp:u-1', iss: gateway.origin });
  });

  it('refuses it for another audience', async () => {
    const { jwksUrl: jwks_uri, issuer } = gateway;
    const result = await verifyInPython(await gateway.signIn('u-1'), jwks_uri, issuer, 'another-app');
    expect(refusal(result)).toMatch(/^token refused: InvalidAudienceError/);
  });
});

describe('PyJWT and time', () => {
  it('refuses a token whose hour is over', async () => {
    // The gateway's clock runs two hours behind: the token it issues expired an hour ago.
    const clock = new ManualClock();
    clock.advance(-2 * 3600);
    const gateway = await serveGateway(idp, { clock });
    try {
      const { jwksUrl: jwks_uri, issuer } = gateway;
      const result = await verifyInPython(await gateway.signIn('u-1'), jwks_uri, issuer);
      expect(refusal(result)).toMatch(/^token refused: ExpiredSignatureError/);
    } finally {
      await gateway.close();
    }
  });
});
