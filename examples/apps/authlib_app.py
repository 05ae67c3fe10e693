"""A web app on another domain that signs its users in through portero, with Authlib.

portero is its OpenID Provider; the app is a confidential client (it has a secret, kept on its
server) registered in portero's environment:

    APP_BILLING_SECRET=<a long random secret>
    APP_BILLING_REDIRECT_URIS=https://billing.example.org/callback
    APP_BILLING_POST_LOGOUT_REDIRECT_URIS=https://billing.example.org/
    APP_BILLING_BACKCHANNEL_LOGOUT_URI=https://billing.example.org/backchannel

Configuration of this app:

    PORTERO_ISSUER  portero's PUBLIC_URL (the `issuer` of <portero>/.well-known/openid-configuration)
    CLIENT_ID       the app's client id in portero (APP_BILLING_* registers `billing`)
    CLIENT_SECRET   its APP_<ID>_SECRET
    APP_URL         where browsers reach this app, as registered: https://billing.example.org
    HOST, PORT      where to listen; default 127.0.0.1 and APP_URL's port (8000 if it names none)

Behind the TLS proxy that serves https://billing.example.org:

    PORTERO_ISSUER=https://auth.example.com CLIENT_ID=billing CLIENT_SECRET=... APP_URL=https://billing.example.org PORT=8001 python3 authlib_app.py

Authlib (`pip install authlib requests`, or Debian's python3-authlib python3-requests) and the
standard library only. Sessions live in this process's memory: a real app keeps them where its
other instances can see them too (its database, Redis), the back-channel logout included.

GET /            "Signed in as <sub> (<email>)" with a sign-out button, or "Signed out"
GET /login       to portero, with state, nonce and PKCE
GET /callback    portero sends the browser back here: the code is exchanged, the ID token validated
POST /logout     ends the app's session and asks portero to end its own (RP-initiated logout)
POST /backchannel  portero posts a logout token here when the user's portero session ends
"""

import hmac
import html
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose.errors import JoseError
from authlib.oidc.core import CodeIDToken

# portero signs the apps' ID tokens and logout tokens with RS256. The algorithm is the app's to
# choose, never the token's: a header saying "none" or "HS256" is refused before any key is used.
TOKENS = JsonWebToken(["RS256"])
LEEWAY = 30  # seconds: this server's clock and portero's may differ a little
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
SESSION_COOKIE = "billing_session"
LOGIN_COOKIE = "billing_login"
LOGIN_TTL = 600  # seconds a sign-in may take, from /login to /callback


class TokenRefused(Exception):
    """An ID token or logout token that this app must not accept."""


class Portero:
    """portero's metadata, read once at start, and its signing keys, fetched again for a new `kid`."""

    def __init__(self, issuer):
        response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5)
        response.raise_for_status()
        self.metadata = response.json()
        # OpenID Connect Discovery 4.3: the document must be the issuer's own, or its endpoints
        # and keys could be anyone's.
        if self.metadata.get("issuer") != issuer:
            raise ValueError(f"{issuer} published the metadata of {self.metadata.get('issuer')!r}")
        self.issuer = issuer
        self._keys = None
        self._fetched = 0.0
        self._lock = threading.Lock()

    def key_for(self, header, _payload):
        """The published key the token's `kid` names; the keys are fetched again (at most every
        30 s) for a kid not seen yet, which is how a key rotation at portero reaches the app."""
        kid = header.get("kid")
        with self._lock:
            for attempt in range(2):
                if self._keys is None or (attempt == 1 and time.monotonic() - self._fetched > 30):
                    response = requests.get(self.metadata["jwks_uri"], timeout=5)
                    response.raise_for_status()
                    self._keys = JsonWebKey.import_key_set(response.json())
                    self._fetched = time.monotonic()
                try:
                    return self._keys.find_by_kid(kid)
                except ValueError:
                    continue
        raise TokenRefused(f"no published key has kid {kid!r}")


def validate_id_token(portero, client_id, id_token, nonce, access_token=None):
    """The ID token's claims, once its signature, `iss`, `aud`, `exp` and `nonce` hold
    (OpenID Connect Core 3.1.3.7); raises TokenRefused otherwise."""
    try:
        claims = TOKENS.decode(
            id_token,
            key=portero.key_for,
            claims_cls=CodeIDToken,
            # Authlib checks `iss` and `aud` only when told their values. Without "aud" here, only its
            # `azp` rule would stand between this app and an ID token meant for another app, and a
            # token naming this app as its `azp` would pass it.
            claims_options={
                "iss": {"essential": True, "value": portero.issuer},
                "aud": {"essential": True, "value": client_id},
                "nonce": {"essential": True},
            },
            # nonce: the token answers this browser's sign-in, not one replayed from elsewhere.
            claims_params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
        )
        claims.validate(leeway=LEEWAY)
    except (JoseError, ValueError) as err:
        raise TokenRefused(f"ID token refused: {err}") from err
    return dict(claims)


def validate_logout_token(portero, client_id, token):
    """A logout token's claims, once it holds as OpenID Connect Back-Channel Logout 1.0 (2.6) says;
    raises TokenRefused otherwise."""
    try:
        claims = TOKENS.decode(
            token,
            key=portero.key_for,
            claims_options={
                "iss": {"essential": True, "value": portero.issuer},
                "aud": {"essential": True, "value": client_id},
                "iat": {"essential": True},
                "jti": {"essential": True},
                "events": {"essential": True},
                "sid": {"essential": True},  # portero ends sessions, so it always names one
            },
        )
        claims.validate(leeway=LEEWAY)
    except (JoseError, ValueError) as err:
        raise TokenRefused(f"logout token refused: {err}") from err
    # Typed and without a nonce, so that no ID token can be replayed here as a logout token.
    if claims.header.get("typ") != "logout+jwt" or "nonce" in claims:
        raise TokenRefused("logout token refused: it is not typed logout+jwt, or has a nonce")
    if not isinstance(claims["events"], dict) or not isinstance(claims["events"].get(LOGOUT_EVENT), dict):
        raise TokenRefused("logout token refused: no back-channel logout event")
    return dict(claims)


class App:
    """The app's state: configuration, portero, sign-ins in progress and sessions, both in memory."""

    def __init__(self, env):
        missing = [name for name in ("PORTERO_ISSUER", "CLIENT_ID", "CLIENT_SECRET", "APP_URL") if not env.get(name)]
        if missing:
            raise SystemExit(f"missing configuration: {', '.join(missing)}")
        self.client_id = env["CLIENT_ID"]
        self.client_secret = env["CLIENT_SECRET"]
        self.url = env["APP_URL"].rstrip("/")
        self.secure = self.url.startswith("https://")
        self.portero = Portero(env["PORTERO_ISSUER"].rstrip("/"))
        self.logins = {}  # state -> the sign-in it started: nonce, PKCE verifier, the browser's mark
        self.sessions = {}  # session cookie -> the user signed in
        self.lock = threading.Lock()

    def oauth(self, **kwargs):
        return OAuth2Session(
            self.client_id,
            self.client_secret,
            scope="openid email profile",
            redirect_uri=f"{self.url}/callback",
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
            **kwargs,
        )

    def cookie(self, name, value, max_age=None):
        # Lax, not Strict: portero sends the browser back to /callback from another site, and a
        # Strict cookie would not come along on that navigation.
        attributes = ["HttpOnly", "SameSite=Lax", "Path=/"] + (["Secure"] if self.secure else [])
        if max_age is not None:
            attributes.append(f"Max-Age={max_age}")
        return f"{name}={value}; {'; '.join(attributes)}"


def page(title, body):
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>
<body><h1>{html.escape(title)}</h1>{body}</body></html>"""


class Handler(BaseHTTPRequestHandler):
    app: App

    def cookies(self):
        # Split by hand: http.cookies.SimpleCookie gives up on the whole header at one odd cookie.
        pairs = (part.strip().partition("=") for part in self.headers.get("Cookie", "").split(";"))
        return {name: value for name, sep, value in pairs if sep}

    def respond(self, status, body="", headers=(), content_type="text/html; charset=utf-8"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, location, headers=()):
        self.respond(303, headers=[("Location", location), *headers])

    def do_GET(self):
        route = urlsplit(self.path).path
        if route == "/":
            return self.home()
        if route == "/login":
            return self.login()
        if route == "/callback":
            return self.callback()
        self.respond(404, page("Not found", ""))

    def do_POST(self):
        route = urlsplit(self.path).path
        if route == "/logout":
            return self.logout()
        if route == "/backchannel":
            return self.backchannel()
        self.respond(404, page("Not found", ""))

    def home(self):
        user = self.app.sessions.get(self.cookies().get(SESSION_COOKIE, ""))
        if user is None:
            return self.respond(200, page("Signed out", '<p><a href="/login">Sign in</a></p>'))
        title = f"Signed in as {user['sub']} ({user.get('email') or 'no verified email'})"
        # A form, not a link: another site's form cannot post with this app's Lax session cookie.
        self.respond(200, page(title, f"""<p>Name: {html.escape(user.get('name') or '')}</p>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>"""))

    def login(self):
        state, nonce, verifier, mark = (generate_token(43) for _ in range(4))
        with self.app.lock:
            now = time.monotonic()
            self.app.logins = {key: value for key, value in self.app.logins.items() if value["until"] > now}
            self.app.logins[state] = {"nonce": nonce, "verifier": verifier, "mark": mark, "until": now + LOGIN_TTL}
        with self.app.oauth() as oauth:
            url, _ = oauth.create_authorization_url(
                self.app.portero.metadata["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
            )
        # The browser's mark: /callback takes the code only in the browser that asked for it, so no
        # one can sign a victim in to the attacker's account with a code of their own (login CSRF).
        self.redirect(url, [("Set-Cookie", self.app.cookie(LOGIN_COOKIE, mark, LOGIN_TTL))])

    def callback(self):
        query = dict(parse_qsl(urlsplit(self.path).query))
        with self.app.lock:
            login = self.app.logins.pop(query.get("state", ""), None)
        mark = self.cookies().get(LOGIN_COOKIE, "")
        if login is None or not hmac.compare_digest(login["mark"].encode(), mark.encode()):
            return self.respond(400, page("Sign-in failed", "<p>This sign-in expired or began in another browser.</p>"))
        if "error" in query:
            return self.respond(400, page("Sign-in failed", f"<p>portero said: {html.escape(query['error'])}</p>"))
        # RFC 9207: the response names who sent it. An app with several providers sends each code to
        # the one that issued it, never to another (a mix-up attack); with one, a stray is refused.
        iss_supported = self.app.portero.metadata.get("authorization_response_iss_parameter_supported")
        if iss_supported and query.get("iss") != self.app.portero.issuer:
            return self.respond(400, page("Sign-in failed", "<p>The response did not come from portero.</p>"))
        try:
            with self.app.oauth(state=query["state"]) as oauth:
                # The address as registered, not as the Host header says: it must be the redirect_uri sent.
                response = f"{self.app.url}/callback?{urlsplit(self.path).query}"
                token = oauth.fetch_token(
                    self.app.portero.metadata["token_endpoint"], authorization_response=response, code_verifier=login["verifier"]
                )
                claims = validate_id_token(self.app.portero, self.app.client_id, token["id_token"], login["nonce"], token["access_token"])
                answer = oauth.get(self.app.portero.metadata["userinfo_endpoint"], timeout=5)
                answer.raise_for_status()
                userinfo = answer.json()
        except (TokenRefused, requests.RequestException, KeyError, ValueError) as err:
            print(f"sign-in failed: {err}", file=sys.stderr, flush=True)
            return self.respond(400, page("Sign-in failed", "<p>portero's answer could not be used. Try again.</p>"))
        # OpenID Connect Core 5.3.2: userinfo about another user than the ID token's is not this user's.
        if userinfo.get("sub") != claims["sub"]:
            return self.respond(400, page("Sign-in failed", "<p>portero's answer could not be used. Try again.</p>"))
        session = generate_token(43)  # a new cookie at every sign-in: no one can set it beforehand
        user = {"sub": claims["sub"], "sid": claims.get("sid"), "email": userinfo.get("email"), "name": userinfo.get("name"),
                "id_token": token["id_token"]}
        with self.app.lock:
            self.app.sessions[session] = user
        print(f"signed in {claims['sub']} (sid {claims.get('sid')})", flush=True)
        self.redirect("/", [("Set-Cookie", self.app.cookie(SESSION_COOKIE, session)), ("Set-Cookie", self.app.cookie(LOGIN_COOKIE, "", 0))])

    def logout(self):
        with self.app.lock:
            user = self.app.sessions.pop(self.cookies().get(SESSION_COOKIE, ""), None)
        clear = ("Set-Cookie", self.app.cookie(SESSION_COOKIE, "", 0))
        if user is None:
            return self.redirect("/", [clear])
        # portero asks the user to confirm, ends its session, and tells the user's other apps by
        # back-channel; then sends the browser back to an address registered for this app.
        query = urlencode({"id_token_hint": user["id_token"], "post_logout_redirect_uri": f"{self.app.url}/",
                           "client_id": self.app.client_id})
        self.redirect(f"{self.app.portero.metadata['end_session_endpoint']}?{query}", [clear])

    def backchannel(self):
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > 64 * 1024:
            return self.respond(400, "", content_type="application/json")
        form = dict(parse_qsl(self.rfile.read(int(length)).decode("utf-8", "replace")))
        try:
            claims = validate_logout_token(self.app.portero, self.app.client_id, form.get("logout_token", ""))
        except requests.RequestException as err:
            print(f"portero's keys unavailable: {err}", file=sys.stderr, flush=True)
            return self.respond(503, "", content_type="application/json")
        except TokenRefused as err:
            print(str(err), file=sys.stderr, flush=True)
            # Back-Channel Logout 2.8: 400 for a token refused.
            body = json.dumps({"error": "invalid_request", "error_description": "logout token refused"})
            return self.respond(400, body, content_type="application/json")
        with self.app.lock:
            ended = [key for key, user in self.app.sessions.items() if user["sid"] == claims["sid"]]
            for key in ended:
                del self.app.sessions[key]
        print(f"back-channel logout of sid {claims['sid']}: {len(ended)} session(s) ended", flush=True)
        self.respond(200, "", content_type="application/json")

    def log_request(self, code="-", size="-"):
        # The path without its query: the callback's holds the code and state, which no log should keep.
        print(f"{self.command} {urlsplit(self.path).path} {getattr(code, 'value', code)}", file=sys.stderr, flush=True)


def main():
    app = App(os.environ)
    Handler.app = app
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT") or urlsplit(app.url).port or 8000)
    with ThreadingHTTPServer((host, port), Handler) as server:
        print(f"listening on http://{host}:{server.server_port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
