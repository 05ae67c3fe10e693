"""Verify a token issued by portero in a Python backend, with PyJWT.

Needs PyJWT 2.x with its crypto extra (Debian: apt-get install python3-jwt python3-cryptography;
pip: pip install "pyjwt[crypto]").

    python3 verify_token.py TOKEN JWKS_URL ISSUER [AUDIENCE]

prints the token's claims as JSON, or one line on stderr and exit status 1 when the token is refused.
JWKS_URL and ISSUER are the `jwks_uri` and `issuer` of <portero>/.well-known/openid-configuration;
AUDIENCE is portero's JWT_AUDIENCE, when it sets one.
"""

import json
import sys

import jwt

# The algorithms portero signs with (JWT_ALG). Never let the token's header choose beyond these.
ALGORITHMS = ["ES256", "EdDSA", "RS256"]

# One client per JWKS URL: it caches the key set and fetches it again for an unknown kid (key rotation).
_clients = {}


def verify_token(token, jwks_url, issuer, audience=None):
    """The claims of a valid token; raises jwt.PyJWTError when it is not valid."""
    client = _clients.setdefault(jwks_url, jwt.PyJWKClient(jwks_url))
    signing_key = client.get_signing_key_from_jwt(token)
    options = {"require": ["exp", "iat", "sub"]}
    if audience is None:
        # portero sets `aud` only when JWT_AUDIENCE is configured; PyJWT refuses an `aud` it was not given.
        options["verify_aud"] = False
    return jwt.decode(
        token,
        signing_key.key,
        algorithms=ALGORITHMS,
        issuer=issuer,
        audience=audience,
        options=options,
    )


def main(argv):
    if len(argv) not in (4, 5):
        print("usage: verify_token.py TOKEN JWKS_URL ISSUER [AUDIENCE]", file=sys.stderr)
        return 2
    token, jwks_url, issuer = argv[1:4]
    audience = argv[4] if len(argv) == 5 else None
    try:
        claims = verify_token(token, jwks_url, issuer, audience)
    except jwt.PyJWTError as err:
        print(f"token refused: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(json.dumps(claims, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
