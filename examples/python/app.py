"""A minimal WSGI backend behind portero: who is signed in, from portero's token.

Standard library only (wsgiref) plus verify_token.py beside it (PyJWT). Configuration, from
<portero>/.well-known/openid-configuration:

    PORTERO_ISSUER     its `issuer` (portero's JWT_ISSUER, by default its PUBLIC_URL); required
    PORTERO_JWKS_URL   its `jwks_uri`; default PORTERO_ISSUER + /.well-known/jwks.json
    PORTERO_AUDIENCE   portero's JWT_AUDIENCE, when it sets one
    PORTERO_ALGORITHMS the algorithms of its keys (its JWT_ALG), comma-separated; default ES256
    PORTERO_COOKIE     portero's TOKEN_COOKIE_NAME; default __Host-auth_token (portero's default
                       under https without COOKIE_DOMAIN; auth_token on plain http or with it)
    HOST, PORT         where to listen; default 127.0.0.1:8000 (PORT=0: any free port)

    PORTERO_ISSUER=https://auth.example.com python3 app.py

GET any path: 200 {"user": sub, "email": ...} for a valid token in the cookie or in
`Authorization: Bearer`, by the rule of portero's /auth (verify_token.verify_request: an app's
own bearer token beside portero's cookie is ignored; two portero tokens must agree; several token
cookies are refused); 401 {"error": "missing_token" | "invalid_token"} otherwise; 503
{"error": "jwks_unavailable"} when portero's keys cannot be fetched (within 5 s).
"""

import json
import os
import re
import sys
from wsgiref.simple_server import make_server

import jwt

from verify_token import KeysUnavailable, check_algorithms, parse_algorithms, verify_request

ISSUER = os.environ.get("PORTERO_ISSUER", "")
JWKS_URL = os.environ.get("PORTERO_JWKS_URL") or ISSUER.rstrip("/") + "/.well-known/jwks.json"
AUDIENCE = os.environ.get("PORTERO_AUDIENCE") or None
ALGORITHMS = parse_algorithms(os.environ.get("PORTERO_ALGORITHMS"))
COOKIE = os.environ.get("PORTERO_COOKIE") or "__Host-auth_token"

BEARER = re.compile(r"^Bearer\s+(\S+)$", re.IGNORECASE)


def tokens_from(environ):
    """The `Authorization: Bearer` token (API clients) or None, and every value of the token cookie
    (browsers), exactly as sent: neither unquoted nor percent-decoded, for portero writes neither."""
    bearer = BEARER.match(environ.get("HTTP_AUTHORIZATION", ""))
    # Split by hand: http.cookies.SimpleCookie gives up on the whole header at one odd cookie.
    cookies = []
    for pair in environ.get("HTTP_COOKIE", "").split(";"):
        name, sep, value = pair.partition("=")
        if sep and name.strip() == COOKIE and value.strip():
            cookies.append(value.strip())
    return (bearer.group(1) if bearer else None), cookies


def app(environ, start_response):
    def respond(status, body, headers=()):
        start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *headers])
        return [json.dumps(body).encode()]

    bearer, cookies = tokens_from(environ)
    try:
        claims = verify_request(bearer, cookies, JWKS_URL, ISSUER, AUDIENCE, ALGORITHMS)
    except KeysUnavailable as err:
        print(f"portero's keys unavailable: {err}", file=sys.stderr, flush=True)
        return respond("503 Service Unavailable", {"error": "jwks_unavailable"})
    except jwt.InvalidTokenError:
        return respond("401 Unauthorized", {"error": "invalid_token"}, [("WWW-Authenticate", 'Bearer error="invalid_token"')])
    if claims is None:
        return respond("401 Unauthorized", {"error": "missing_token"}, [("WWW-Authenticate", "Bearer")])
    return respond("200 OK", {"user": claims["sub"], "email": claims.get("email")})


def main():
    problems = []
    if not ISSUER:
        problems.append("PORTERO_ISSUER is required: the issuer of <portero>/.well-known/openid-configuration")
    try:
        check_algorithms(ALGORITHMS)
    except ValueError as err:
        problems.append(f"PORTERO_ALGORITHMS: {err}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    with make_server(host, port, app) as server:
        print(f"listening on http://{host}:{server.server_port}", flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
