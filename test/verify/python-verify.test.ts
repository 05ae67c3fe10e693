import { fileURLToPath } from 'node:url';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../support/app.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import type { Exited } from '../support/process.js';
import { assertPythonJwt, runPython, withHeader } from '../support/python.js';
import { serveGateway, tamper, type ServedGateway } from '../support/served-gateway.js';

// A downstream backend that is not written in TypeScript checks portero's tokens with its own JWT
// library: here Python's PyJWT, fetching the keys from the gateway over real HTTP, exactly as
// examples/python/verify_token.py shows. It accepts every algorithm portero signs with, once
// PORTERO_ALGORITHMS allows it, and the token's header never picks another than its key's.

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
const verifyInPython = (...args: string[]) => runPython([SCRIPT, ...args]);

/** The same, with PORTERO_ALGORITHMS set to `algorithms` (portero's JWT_ALG). */
const verifyAllowing =
  (algorithms: string) =>
  (...args: string[]) =>
    runPython([SCRIPT, ...args], { PORTERO_ALGORITHMS: algorithms });

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
  /** verify_token.py with PORTERO_ALGORITHMS=alg. */
  const verify = verifyAllowing(alg);
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
    const claims = acceptedClaims(await verify(token, gateway.jwksUrl, gateway.issuer));
    expect(claims).toMatchObject({
      iss: gateway.origin,
      sub: 'corp:u-7',
      provider: 'corp',
      email: 'grace@example.com',
      name: 'Grace Hopper',
    });
    expect(claims).toEqual(decodeJwt(token));
  });

  it('and refuses the token with a claim changed', async () => {
    const { jwksUrl: jwks_uri, issuer } = gateway;
    const forged = tamper(await gateway.signIn('u-8'), { sub: 'corp:admin' });
    expect(refusal(await verify(forged, jwks_uri, issuer))).toMatch(/^token refused: InvalidSignatureError/);
  });

  it('and refuses a token from another issuer', async () => {
    const { jwksUrl: jwks_uri } = gateway;
    const token = await gateway.signIn('u-9');
    expect(refusal(await verify(token, jwks_uri, 'https://someone-else.example'))).toMatch(/^token refused: InvalidIssuerError/);
  });

  it(`and refuses it when PORTERO_ALGORITHMS leaves ${alg} out (unset, it allows ES256 alone: portero's default JWT_ALG)`, async () => {
    const { jwksUrl: jwks_uri, issuer } = gateway;
    const token = await gateway.signIn('u-10');
    const others = alg === 'ES256' ? verifyAllowing('EdDSA,RS256') : verifyInPython;
    expect(refusal(await others(token, jwks_uri, issuer))).toMatch(new RegExp(`^token refused: InvalidAlgorithmError: .*'${alg}'`));
  });
});

describe('PyJWT and the algorithm', () => {
  let gateway: ServedGateway;
  beforeAll(async () => {
    gateway = await serveGateway(idp);
  });
  afterAll(() => gateway.close());

  // Regression: with all three allowed, `alg: RS256` and the kid of the EC key made PyJWT raise a
  // TypeError ("Expecting a PEM-formatted key"), which the CLI printed as a traceback (app.py: 500).
  it.each([
    ['RS256', 'a key of another type'],
    ['EdDSA', 'a key of another type'],
    ['HS256', 'an algorithm portero does not sign with'],
    ['none', 'no signature at all'],
  ])('refuses, in one line, a header that names %s (%s) with the kid of the ES256 key, all three allowed', async (alg) => {
    const { jwksUrl: jwks_uri, issuer } = gateway;
    const token = await gateway.signIn('u-2');
    const forged = withHeader(token, { ...decodeProtectedHeader(token), alg });
    const result = await verifyAllowing('ES256,EdDSA,RS256')(forged, jwks_uri, issuer);
    expect(refusal(result)).toMatch(/^token refused: InvalidAlgorithmError: /);
  });

  it('exits 2, naming the setting, for an algorithm portero does not sign with', async () => {
    const { jwksUrl: jwks_uri, issuer } = gateway;
    const result = await verifyAllowing('EdDSA,HS256')(await gateway.signIn('u-3'), jwks_uri, issuer);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim()).toBe('PORTERO_ALGORITHMS: portero signs with ES256, EdDSA or RS256, not HS256');
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

  it('refuses it when the backend was given no audience: a token meant for a named one is not for this backend', async () => {
    const { jwksUrl: jwks_uri, issuer } = gateway;
    expect(refusal(await verifyInPython(await gateway.signIn('u-1'), jwks_uri, issuer))).toMatch(/^token refused: InvalidAudienceError/);
  });
});

describe('PyJWT and time', () => {
  /** A token of a gateway whose clock is `seconds` ahead of this machine's (behind, when negative). */
  async function verifyFromGatewayAhead(seconds: number): Promise<Exited> {
    const clock = new ManualClock();
    clock.advance(seconds);
    const gateway = await serveGateway(idp, { clock });
    try {
      const { jwksUrl: jwks_uri, issuer } = gateway;
      return await verifyInPython(await gateway.signIn('u-1'), jwks_uri, issuer);
    } finally {
      await gateway.close();
    }
  }

  // Regression: PyJWT refused an `iat` even a second in the future, so a gateway whose clock ran a
  // little ahead had its fresh tokens refused. verify_token.py allows 30 s either way.
  it('accepts a fresh token from a gateway whose clock runs 5 s ahead', async () => {
    const claims = acceptedClaims(await verifyFromGatewayAhead(5));
    expect(claims.iat as number).toBeGreaterThan(Date.now() / 1000);
  });

  it('refuses one from a gateway 2 minutes ahead, beyond the 30 s leeway', async () => {
    expect(refusal(await verifyFromGatewayAhead(120))).toMatch(/^token refused: ImmatureSignatureError/);
  });

  it('refuses a token whose hour is over', async () => {
    // The gateway's clock runs two hours behind: the token it issues expired an hour ago.
    expect(refusal(await verifyFromGatewayAhead(-2 * 3600))).toMatch(/^token refused: ExpiredSignatureError/);
  });
});

describe('PyJWT and the extra claims of PROVIDER_<ID>_CLAIMS', () => {
  let gateway: ServedGateway;
  beforeAll(async () => {
    gateway = await serveGateway(idp, {
      env: { PROVIDER_CORP_CLAIMS: 'roles,level,active,department', PROVIDER_CORP_ALLOWED_GROUPS: 'ops' },
    });
  });
  afterAll(() => gateway.close());

  it('accepts the token and hands them over with their JSON types', async () => {
    const { jwksUrl: jwks_uri, issuer } = gateway;
    const token = await gateway.signIn('u-11', {
      roles: ['admin', 'dev'],
      level: 3,
      active: false,
      department: 'R&D',
      groups: ['ops', 'x'],
    });
    const claims = acceptedClaims(await verifyInPython(token, jwks_uri, issuer));
    expect(claims).toMatchObject({ roles: ['admin', 'dev'], level: 3, active: false, department: 'R&D', groups: ['ops'] });
  });
});
