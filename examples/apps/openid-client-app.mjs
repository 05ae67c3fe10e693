// A web app on another domain that signs its users in through portero, with openid-client.
//
// portero is its OpenID Provider; the app is a public client: it has no secret to keep or rotate,
// and PKCE (S256) proves that the code it exchanges is the one its own sign-in asked for. It is
// registered in portero's environment without APP_<ID>_SECRET:
//
//     APP_WIKI_REDIRECT_URIS=https://wiki.example.net/callback
//     APP_WIKI_POST_LOGOUT_REDIRECT_URIS=https://wiki.example.net/
//     APP_WIKI_BACKCHANNEL_LOGOUT_URI=https://wiki.example.net/backchannel
//
// Configuration of this app:
//
//     PORTERO_ISSUER  portero's PUBLIC_URL (the `issuer` of <portero>/.well-known/openid-configuration)
//     CLIENT_ID       the app's client id in portero (APP_WIKI_* registers `wiki`)
//     APP_URL         where browsers reach this app, as registered: https://wiki.example.net
//     HOST, PORT      where to listen; default 127.0.0.1 and APP_URL's port (8000 if it names none)
//
// Behind the TLS proxy that serves https://wiki.example.net:
//
//     PORTERO_ISSUER=https://auth.example.com CLIENT_ID=wiki APP_URL=https://wiki.example.net PORT=8002 node openid-client-app.mjs
//
// openid-client (v6) and jose, on node:http. Sessions live in this process's memory: a real app
// keeps them where its other instances can see them too (its database, Redis), the back-channel
// logout included.
//
// GET /             "Signed in as <sub> (<email>)" with a sign-out button, or "Signed out"
// GET /login        to portero, with state, nonce and PKCE
// GET /callback     portero sends the browser back here: the code is exchanged, the ID token validated
// POST /logout      ends the app's session and asks portero to end its own (RP-initiated logout)
// POST /backchannel portero posts a logout token here when the user's portero session ends

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';

const SESSION_COOKIE = 'wiki_session';
const LOGIN_COOKIE = 'wiki_login';
const LOGIN_TTL = 600; // seconds a sign-in may take, from /login to /callback
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

const missing = ['PORTERO_ISSUER', 'CLIENT_ID', 'APP_URL'].filter((name) => !process.env[name]);
if (missing.length > 0) {
  console.error(`missing configuration: ${missing.join(', ')}`);
  process.exit(2);
}
const issuer = new URL(process.env.PORTERO_ISSUER);
const clientId = process.env.CLIENT_ID;
const appUrl = process.env.APP_URL.replace(/\/$/, '');
const secure = appUrl.startsWith('https://');

// portero's metadata, read once at start; openid-client checks it is the issuer's own. Plain http
// is for a portero on this machine only (development, tests): anywhere else it must be https.
const onThisMachine = ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname);
const config = await client.discovery(
  issuer,
  clientId,
  // The algorithm is the app's to choose, never the token's: portero signs apps' ID tokens with RS256.
  { id_token_signed_response_alg: 'RS256' },
  client.None(),
  issuer.protocol === 'http:' && onThisMachine ? { execute: [client.allowInsecureRequests] } : undefined,
);
const metadata = config.serverMetadata();
// portero's published keys, for the logout tokens (openid-client checks the ID tokens itself):
// cached, and fetched again for a `kid` not seen yet, which is how a key rotation reaches the app.
const portero = createRemoteJWKSet(new URL(metadata.jwks_uri));

/** Sign-ins in progress, by state: nonce, PKCE verifier, and the mark of the browser that began it. */
const logins = new Map();
/** Session cookie → the user signed in: sub, sid, email, name, the ID token (for the sign-out). */
const sessions = new Map();

const token = () => randomBytes(32).toString('base64url');
const escapeHtml = (text) =>
  String(text).replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]);
const page = (title, body) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;

function cookie(name, value, maxAge) {
  // Lax, not Strict: portero sends the browser back to /callback from another site, and a Strict
  // cookie would not come along on that navigation.
  const attributes = [
    'HttpOnly',
    'SameSite=Lax',
    'Path=/',
    ...(secure ? ['Secure'] : []),
    ...(maxAge === undefined ? [] : [`Max-Age=${maxAge}`]),
  ];
  return `${name}=${value}; ${attributes.join('; ')}`;
}

function cookiesOf(request) {
  const pairs = (request.headers.cookie ?? '').split(';').map((part) => part.trim().split(/=(.*)/s));
  return new Map(pairs.filter((pair) => pair.length > 1).map(([name, value]) => [name, value]));
}

function send(response, status, body, headers = {}) {
  response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers });
  response.end(body);
}

const redirect = (response, location, cookies = []) => send(response, 303, '', { location, 'set-cookie': cookies });

async function readForm(request) {
  let body = '';
  for await (const chunk of request) {
    body += chunk;
    if (body.length > 64 * 1024) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

function home(request, response) {
  const user = sessions.get(cookiesOf(request).get(SESSION_COOKIE));
  if (!user) return send(response, 200, page('Signed out', '<p><a href="/login">Sign in</a></p>'));
  // A form, not a link: another site's form cannot post with this app's Lax session cookie.
  send(
    response,
    200,
    page(
      `Signed in as ${user.sub} (${user.email ?? 'no verified email'})`,
      `<p>Name: ${escapeHtml(user.name ?? '')}</p><form method="post" action="/logout"><button type="submit">Sign out</button></form>`,
    ),
  );
}

async function login(_request, response) {
  const now = Date.now();
  for (const [state, pending] of logins) if (pending.until < now) logins.delete(state);
  const [state, nonce, verifier, mark] = [token(), token(), client.randomPKCECodeVerifier(), token()];
  logins.set(state, { nonce, verifier, mark, until: now + LOGIN_TTL * 1000 });
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: `${appUrl}/callback`,
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  // The browser's mark: /callback takes the code only in the browser that asked for it, so no one
  // can sign a victim in to the attacker's account with a code of their own (login CSRF).
  redirect(response, url.href, [cookie(LOGIN_COOKIE, mark, LOGIN_TTL)]);
}

function sameMark(expected, given = '') {
  const [a, b] = [Buffer.from(expected), Buffer.from(given)];
  return a.length === b.length && timingSafeEqual(a, b);
}

async function callback(request, response, search) {
  const state = new URLSearchParams(search).get('state') ?? '';
  const pending = logins.get(state);
  logins.delete(state);
  if (!pending || !sameMark(pending.mark, cookiesOf(request).get(LOGIN_COOKIE))) {
    return send(response, 400, page('Sign-in failed', '<p>This sign-in expired or began in another browser.</p>'));
  }
  let tokens;
  let userinfo;
  try {
    // The address as registered, not as the Host header says: it must be the redirect_uri sent.
    // openid-client checks state, iss (RFC 9207), the code's PKCE, and the ID token (signature,
    // iss, aud, exp, nonce) before it hands anything back.
    tokens = await client.authorizationCodeGrant(config, new URL(`${appUrl}/callback${search}`), {
      pkceCodeVerifier: pending.verifier,
      expectedState: state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    // The userinfo of the ID token's subject, or an error (OpenID Connect Core 5.3.2).
    userinfo = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
  } catch (err) {
    console.error(`sign-in failed: ${err.code ?? err.name}: ${err.message}`);
    return send(response, 400, page('Sign-in failed', "<p>portero's answer could not be used. Try again.</p>"));
  }
  const claims = tokens.claims();
  const session = token(); // a new cookie at every sign-in: no one can set it beforehand
  sessions.set(session, { sub: claims.sub, sid: claims.sid, email: userinfo.email, name: userinfo.name, idToken: tokens.id_token });
  console.log(`signed in ${claims.sub} (sid ${claims.sid})`);
  redirect(response, '/', [cookie(SESSION_COOKIE, session), cookie(LOGIN_COOKIE, '', 0)]);
}

function logout(request, response) {
  const key = cookiesOf(request).get(SESSION_COOKIE);
  const user = sessions.get(key);
  sessions.delete(key);
  const clear = cookie(SESSION_COOKIE, '', 0);
  if (!user) return redirect(response, '/', [clear]);
  // portero asks the user to confirm, ends its session, and tells the user's other apps by
  // back-channel; then sends the browser back to an address registered for this app.
  const url = client.buildEndSessionUrl(config, { id_token_hint: user.idToken, post_logout_redirect_uri: `${appUrl}/` });
  redirect(response, url.href, [clear]);
}

/** A logout token's claims, once it holds as OpenID Connect Back-Channel Logout 1.0 (2.6) says; throws otherwise. */
async function verifyLogoutToken(logoutToken) {
  const { payload } = await jwtVerify(logoutToken, portero, {
    issuer: metadata.issuer,
    audience: clientId,
    algorithms: ['RS256'],
    // Typed, and (below) without a nonce, so that no ID token can be replayed here as a logout token.
    typ: 'logout+jwt',
    requiredClaims: ['iat', 'jti', 'events', 'sid'], // portero ends sessions, so it always names one
    clockTolerance: 30,
  });
  const event = payload.events?.[LOGOUT_EVENT];
  if (typeof event !== 'object' || event === null || 'nonce' in payload) throw new Error('not a back-channel logout token');
  return payload;
}

async function backchannel(request, response) {
  let claims;
  try {
    claims = await verifyLogoutToken((await readForm(request)).get('logout_token') ?? '');
  } catch (err) {
    console.error(`logout token refused: ${err.code ?? err.name}: ${err.message}`);
    // Back-Channel Logout 2.8: 400 for a token refused.
    return send(response, 400, JSON.stringify({ error: 'invalid_request', error_description: 'logout token refused' }), {
      'content-type': 'application/json',
    });
  }
  // The sessions of the portero session that ended: the sid its ID tokens carried. A replayed
  // logout token ends nothing new: that sid has ended already.
  let ended = 0;
  for (const [key, user] of sessions) {
    if (user.sid === claims.sid) {
      sessions.delete(key);
      ended++;
    }
  }
  console.log(`back-channel logout of sid ${claims.sid}: ${ended} session(s) ended`);
  send(response, 200, '', { 'content-type': 'application/json' });
}

const routes = {
  'GET /': home,
  'GET /login': login,
  'GET /callback': callback,
  'POST /logout': logout,
  'POST /backchannel': backchannel,
};

const server = createServer((request, response) => {
  const { pathname, search } = new URL(request.url ?? '/', 'http://app.invalid');
  const route = `${request.method} ${pathname}`;
  if (!Object.hasOwn(routes, route)) return send(response, 404, page('Not found', ''));
  Promise.resolve(routes[route](request, response, search)).catch((err) => {
    console.error(`${route}: ${err.stack ?? err}`);
    if (!response.headersSent) send(response, 500, page('Something went wrong', ''));
    else response.end();
  });
});

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? (new URL(appUrl).port || 8000));
server.listen(port, host, () => console.log(`listening on http://${host}:${server.address().port}`));
