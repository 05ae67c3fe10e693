"""Verify a token issued by portero in a Python backend, with PyJWT.

Needs PyJWT 2.x with its crypto extra (Debian: apt-get install python3-jwt python3-cryptography;
pip: pip install "pyjwt[crypto]").

    [PORTERO_ALGORITHMS=ES256] python3 verify_token.py TOKEN JWKS_URL ISSUER [AUDIENCE]

prints the token's claims as JSON, or one line on stderr and exit status 1 when the token is refused
(2 for a usage or configuration mistake). JWKS_URL and ISSUER are the `jwks_uri` and `issuer` of
<portero>/.well-known/openid-configuration; AUDIENCE is portero's JWT_AUDIENCE, when it sets one;
PORTERO_ALGORITHMS the algorithms its keys are for (its JWT_ALG), comma-separated, ES256 when unset.
"""

import base64
import http.client
import json
import os
import re
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


SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")


def is_canonical(token):
    """Whether `token` is in the one encoding portero writes: three base64url segments without
    padding, each decoding and encoding back to the same text (base64 decoders also take padding
    and other bits after the last byte: other spellings of the same token)."""
    segments = token.split(".")
    if len(segments) != 3:
        return False
    for segment in segments:
        if not SEGMENT.match(segment) or len(segment) % 4 == 1:
            return False
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        if base64.urlsafe_b64encode(raw).decode().rstrip("=") != segment:
            return False
    return True


LATEST = 253402300799  # 9999-12-31T23:59:59Z


def _time(value):
    return type(value) is int and 0 <= value <= LATEST


def _text(value):
    return isinstance(value, str)


def _name(value):
    return isinstance(value, str) and value != ""


# Each claim of a portero token and what it must be: (check, required).
SCHEMA = {
    "sub": (_name, True, "a non-empty string"),
    "sid": (_name, True, "a non-empty string"),
    "jti": (_text, True, "a string"),
    "iat": (_time, True, "a whole number of seconds"),
    "exp": (_time, True, "a whole number of seconds"),
    "nbf": (_time, False, "a whole number of seconds"),
    "provider": (_text, True, "a string"),
    "email": (_text, False, "a string"),
    "email_verified": (lambda value: isinstance(value, bool), False, "a boolean"),
    "name": (_text, False, "a string"),
    "preferred_username": (_text, False, "a string"),
    "picture": (_text, False, "a string"),
    "groups": (lambda value: isinstance(value, list) and all(isinstance(g, str) for g in value), False, "an array of strings"),
}


def claims_problem(claims):
    """What is wrong with the claims of a validly signed token, or None: a `sub` that is an
    object, a `sid` that is a list, an `exp` of 1e308 are refused, never half-read."""
    for name, (check, required, rule) in SCHEMA.items():
        if name not in claims:
            if required:
                return f"{name} is missing"
            continue
        if not check(claims[name]):
            return f"{name} must be {rule}"
    return None


def _client(jwks_url):
    client = _clients.get(jwks_url)
    if client is None:
        client = _clients[jwks_url] = JWKSClient(jwks_url)
    return client


def signed_by_portero(token, jwks_url, algorithms=DEFAULT_ALGORITHMS):
    """Whether portero issued `token`: its signature verifies against one of portero's published
    keys, with an allowed algorithm that is its key's. Anything else (an app's own token, another
    issuer's, a tampered copy) is not portero's. Raises KeysUnavailable when the keys cannot be had."""
    check_algorithms(algorithms)
    try:
        header = jwt.get_unverified_header(token)
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in algorithms or kid is None:
            return False
        key = _client(jwks_url).get_signing_key(kid)
        if key_algorithm(key) != alg:
            return False
        jwt.PyJWS().decode_complete(token, key.key, algorithms=[alg])
        return True
    except KeysUnavailable:
        raise
    except (jwt.PyJWTError, TypeError, ValueError):
        return False


class TokensRefused(jwt.InvalidTokenError):
    """The request's tokens are refused together: several token cookies, or two that disagree."""


def verify_request(bearer, cookies, jwks_url, issuer, audience=None, algorithms=DEFAULT_ALGORITHMS):
    """The claims of the token that identifies a request, by the rule portero's own /auth applies.

    `bearer` is the `Authorization: Bearer` token or None; `cookies` every value of the token
    cookie the request carries (a list). More than one cookie counts as not signed in (one may have
    been planted by a sibling subdomain). A token portero did not issue (see signed_by_portero)
    beside one it did is ignored; of portero's own the bearer wins, but both must verify and name
    the same `sub` and `sid`. Raises as verify_token does; None when there is no token at all.
    """
    cookies = [value for value in cookies if value]
    if len(cookies) > 1:
        raise TokensRefused("several token cookies")
    tokens = [token for token in (bearer, cookies[0] if cookies else None) if token]
    if not tokens:
        return None
    if len(tokens) == 2:
        own = [token for token in tokens if signed_by_portero(token, jwks_url, algorithms)]
        # Neither is portero's: the cookie (portero's name) is checked, and refused for what it is.
        tokens = own or tokens[1:]
    claims = [verify_token(token, jwks_url, issuer, audience, algorithms) for token in tokens]
    if any((other["sub"], other["sid"]) != (claims[0]["sub"], claims[0]["sid"]) for other in claims[1:]):
        raise TokensRefused("the tokens disagree on sub or sid")
    return claims[0]


def verify_token(token, jwks_url, issuer, audience=None, algorithms=DEFAULT_ALGORITHMS):
    """The claims of a valid token.

    Raises KeysUnavailable when portero's keys cannot be fetched (answer 503) and
    jwt.InvalidTokenError for a token it refuses (answer 401); both are jwt.PyJWTError. Raises
    ValueError at once, whatever the token, when `algorithms` is not a list drawn from
    SUPPORTED_ALGORITHMS.
    """
    check_algorithms(algorithms)
    client = _client(jwks_url)
    if not is_canonical(token):
        raise jwt.InvalidTokenError("the token is not in its canonical encoding")
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
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            issuer=issuer,
            audience=audience,  # None: a token that names an audience is refused, it is not for us
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "sub", "sid"]},
        )
        # After the signature: portero's key vouches for the bytes, this for their shape.
        problem = claims_problem(claims)
        if problem:
            raise jwt.InvalidTokenError(f"the token's claims are malformed: {problem}")
        return claims
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
