"""Verify a token issued by portero in a Python backend, with PyJWT.

Needs PyJWT 2.x with its crypto extra (Debian: apt-get install python3-jwt python3-cryptography;
pip: pip install "pyjwt[crypto]").

    [PORTERO_ALGORITHMS=ES256] python3 verify_token.py TOKEN JWKS_URL ISSUER [AUDIENCE]

prints the token's claims as JSON, or one line on stderr and exit status 1 when the token is refused
(2 for a usage or configuration mistake). JWKS_URL and ISSUER are the `jwks_uri` and `issuer` of
<portero>/.well-known/openid-configuration; AUDIENCE is portero's JWT_AUDIENCE, when it sets one;
PORTERO_ALGORITHMS the algorithms its keys are for (its JWT_ALG), comma-separated, ES256 when unset.
"""

import http.client
import json
import os
import sys
import time
import urllib.request

import jwt

# The algorithms portero signs with (JWT_ALG). A backend allows those of its gateway, ES256 unless
# told otherwise; the token's header names one of them, and it must be its key's.
SUPPORTED_ALGORITHMS = ("ES256", "EdDSA", "RS256")
DEFAULT_ALGORITHMS = ("ES256",)

# Seconds by which the clocks of portero and this backend may differ: `iat` that far in the future
# and `exp` that far in the past still pass. PyJWT allows none by default, so a gateway whose clock
# ran a second ahead would see its fresh tokens refused.
LEEWAY = 30


class KeysUnavailable(jwt.PyJWKClientError):
    """portero's keys could not be fetched (down, too slow, an error status, not a JWKS): answer 503, not 401."""


class JWKSClient(jwt.PyJWKClient):
    """PyJWT's PyJWKClient with a timeout on fetches and a cooldown on fetches for unknown kids.

    PyJWT 2.6 fetches without a timeout, so a gateway that does not answer holds up every request,
    and fetches again for every token naming an unknown `kid`, so made-up kids make it call the
    gateway each time. The key set stays cached for `lifespan` seconds (PyJWT's default, 5 minutes).
    """

    def __init__(self, uri, timeout=5, cooldown=30, lifespan=300):
        super().__init__(uri, lifespan=lifespan)
        self.timeout = timeout
        self.cooldown = cooldown
        self._refetch_after = 0.0  # time.monotonic() before which an unknown kid fetches nothing

    def fetch_data(self):
        try:
            with urllib.request.urlopen(self.uri, timeout=self.timeout) as response:
                data = json.load(response)
        # Refused, timed out, an error status (URLError is an OSError), a broken answer, not JSON.
        except (OSError, http.client.HTTPException, ValueError) as err:
            raise KeysUnavailable(f"cannot fetch {self.uri}: {err}") from err
        keys = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(keys, list) or not all(isinstance(key, dict) for key in keys):
            raise KeysUnavailable(f"{self.uri} did not answer a JWKS")
        # Only now: unlike PyJWT 2.6, a failed fetch keeps the keys already cached.
        self.jwk_set_cache.put(data)
        return data

    def get_signing_key(self, kid):
        key = self.match_kid(self.get_signing_keys(), kid)
        if key is None and time.monotonic() >= self._refetch_after:
            # Perhaps a key newer than the cached set: fetch again, at most once per cooldown.
            self._refetch_after = time.monotonic() + self.cooldown
            key = self.match_kid(self.get_signing_keys(refresh=True), kid)
        if key is None:
            raise jwt.PyJWKClientError(f"no key in {self.uri} has kid {kid!r}")
        return key


def parse_algorithms(value):
    """PORTERO_ALGORITHMS as a list: comma-separated names; ES256 when unset or empty."""
    return [name.strip() for name in (value or "").split(",") if name.strip()] or list(DEFAULT_ALGORITHMS)


def check_algorithms(algorithms):
    """Raises ValueError unless `algorithms` is a non-empty list of names from SUPPORTED_ALGORITHMS."""
    if isinstance(algorithms, str) or not algorithms:
        raise ValueError(f"a list of algorithms is needed, not {algorithms!r}")
    unknown = [str(name) for name in algorithms if name not in SUPPORTED_ALGORITHMS]
    if unknown:
        raise ValueError(f"portero signs with ES256, EdDSA or RS256, not {', '.join(unknown)}")


def key_algorithm(key):
    """The algorithm a PyJWK is for. PyJWT >= 2.8 names it; 2.6 keeps the JWK's `alg`, which
    portero sets on every key, only in `_jwk_data`."""
    return getattr(key, "algorithm_name", None) or key._jwk_data.get("alg")


# One client per JWKS URL: it caches the key set and fetches it again for an unknown kid (key rotation).
_clients = {}


def verify_token(token, jwks_url, issuer, audience=None, algorithms=DEFAULT_ALGORITHMS):
    """The claims of a valid token.

    Raises KeysUnavailable when portero's keys cannot be fetched (answer 503) and
    jwt.InvalidTokenError for a token it refuses (answer 401); both are jwt.PyJWTError. Raises
    ValueError at once, whatever the token, when `algorithms` is not a list drawn from
    SUPPORTED_ALGORITHMS.
    """
    check_algorithms(algorithms)
    client = _clients.get(jwks_url)
    if client is None:
        client = _clients[jwks_url] = JWKSClient(jwks_url)
    try:
        header = jwt.get_unverified_header(token)
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in algorithms:
            raise jwt.InvalidAlgorithmError(f"alg {alg!r} is not one of {', '.join(algorithms)}")
        if kid is None:
            raise jwt.InvalidTokenError("the token names no key (kid)")
        key = client.get_signing_key(kid)
        if key_algorithm(key) != alg:
            raise jwt.InvalidAlgorithmError(f"the key {kid!r} is for {key_algorithm(key)}, the token says {alg!r}")
        return jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            issuer=issuer,
            audience=audience,  # None: a token that names an audience is refused, it is not for us
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "sub"]},
        )
    except (KeysUnavailable, jwt.InvalidTokenError):
        raise
    # An unknown kid, a key or header PyJWT cannot use (it raises TypeError or ValueError for some):
    # all the token's fault.
    except (jwt.PyJWTError, TypeError, ValueError) as err:
        raise jwt.InvalidTokenError(f"{type(err).__name__}: {err}") from err


def main(argv):
    if len(argv) not in (4, 5):
        print("usage: verify_token.py TOKEN JWKS_URL ISSUER [AUDIENCE]", file=sys.stderr)
        return 2
    algorithms = parse_algorithms(os.environ.get("PORTERO_ALGORITHMS"))
    try:
        check_algorithms(algorithms)
    except ValueError as err:
        print(f"PORTERO_ALGORITHMS: {err}", file=sys.stderr)
        return 2
    token, jwks_url, issuer = argv[1:4]
    audience = argv[4] if len(argv) == 5 else None
    try:
        claims = verify_token(token, jwks_url, issuer, audience, algorithms)
    except jwt.PyJWTError as err:
        print(f"token refused: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(json.dumps(claims, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
