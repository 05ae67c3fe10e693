// Verify a token issued by portero in a Node service, with portero/verify (jose underneath).
//
//     node verify.mjs TOKEN JWKS_URL ISSUER [AUDIENCE]
//
// prints the token's claims as JSON, or one line on stderr and exit status 1 when it is refused
// (2 for bad arguments).
// JWKS_URL and ISSUER are the `jwks_uri` and `issuer` of <portero>/.well-known/openid-configuration;
// AUDIENCE is portero's JWT_AUDIENCE, when it sets one.
//
// In an Express app, the same verifier guards routes (see README.md beside this file):
//
//     app.use('/api', expressAuth({ verifier }));
//     app.get('/api/me', (req, res) => res.json({ user: req.portero.sub, email: req.portero.email }));

import { createVerifier, PorteroTokenError } from 'portero/verify';

const [token, jwksUrl, issuer, audience] = process.argv.slice(2);
if (!token || !jwksUrl || !issuer) {
  console.error('usage: node verify.mjs TOKEN JWKS_URL ISSUER [AUDIENCE]');
  process.exit(2);
}

// One verifier per process: it caches portero's keys and fetches them again after a rotation.
// A bad argument (say, a plain-http JWKS_URL on a host that is not loopback) is a TypeError here.
let verifier;
try {
  verifier = createVerifier({ issuer, jwksUrl, ...(audience ? { audience } : {}) });
} catch (err) {
  if (!(err instanceof TypeError)) throw err;
  console.error(`bad argument: ${err.message}`);
  process.exit(2);
}

try {
  const claims = await verifier.verify(token);
  console.log(JSON.stringify(claims, null, 2));
} catch (err) {
  if (!(err instanceof PorteroTokenError)) throw err;
  // err.code: 'missing_token' | 'invalid_token' | 'jwks_unavailable'; err.cause: the jose error.
  console.error(`token refused: ${err.code}: ${err.message}`);
  process.exit(1);
}
