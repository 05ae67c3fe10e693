/**
 * A minimal OpenID provider for the bench: discovery, JWKS, authorize, token and userinfo, as
 * cheap as it can be so that the provider's side of a login costs the shared cores little.
 *
 * The authorization code carries what the provider must remember between the authorization
 * request and the token request (the nonce and the PKCE challenge), base64url JSON: no state is
 * kept, and a load generator can mint the code itself instead of visiting /authorize (the user's
 * part of a login, which is not the gateway's work). The token endpoint still checks the client's
 * secret and the PKCE verifier, and signs a fresh ES256 ID token with the nonce for every code.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const OP_CLIENT_ID = 'bench';
export const OP_CLIENT_SECRET = 'bench-client-secret-of-the-stub-provider';
/**
 * The user: the ID token carries every claim portero's oidc preset reads, userinfo repeats them.
 * Each code exchange signs in another one (`alice-1`, `alice-2`, …), as a gateway's logins come
 * from many people: one user signing in a million times would have SESSIONS_PER_USER end her
 * oldest session at each login, which no real load does.
 */
export const OP_USER = {
  sub: 'alice',
  email: 'alice@corp.example',
  email_verified: true,
  name: 'Alice Liddell',
  preferred_username: 'alice',
};

/** The code for an authorization request's nonce and PKCE challenge (what /authorize would hand out). */
export function mintCode(nonce: string | null, challenge: string | null): string {
  return Buffer.from(JSON.stringify({ n: nonce, c: challenge })).toString('base64url');
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let signIns = 0;

function idToken(key: KeyObject, issuer: string, nonce: string | null, sub: string): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: issuer, aud: OP_CLIENT_ID, iat: now, exp: now + 300, ...OP_USER, sub, ...(nonce ? { nonce } : {}) };
  const input = `${b64({ alg: 'ES256', kid: 'op', typ: 'JWT' })}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

async function readBody(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return new URLSearchParams(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(value));
}

/** Whether the token request authenticates the client: HTTP Basic or the secret in the form body. */
function clientAuthenticated(req: IncomingMessage, form: URLSearchParams): boolean {
  const basic = /^basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (basic) {
    const [id, secret] = Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent);
    return id === OP_CLIENT_ID && secret === OP_CLIENT_SECRET;
  }
  return form.get('client_id') === OP_CLIENT_ID && form.get('client_secret') === OP_CLIENT_SECRET;
}

async function token(req: IncomingMessage, res: ServerResponse, key: KeyObject, issuer: string): Promise<void> {
  const form = await readBody(req);
  if (!clientAuthenticated(req, form)) return json(res, 401, { error: 'invalid_client' });
  let code: { n: string | null; c: string | null };
  try {
    code = JSON.parse(Buffer.from(form.get('code') ?? '', 'base64url').toString());
  } catch {
    return json(res, 400, { error: 'invalid_grant' });
  }
  const verifier = form.get('code_verifier') ?? '';
  if (code.c && createHash('sha256').update(verifier).digest('base64url') !== code.c) return json(res, 400, { error: 'invalid_grant' });
  const sub = `${OP_USER.sub}-${++signIns}`;
  json(res, 200, {
    access_token: `stub-access-token.${sub}`,
    token_type: 'Bearer',
    expires_in: 300,
    id_token: idToken(key, issuer, code.n, sub),
  });
}

function authorize(url: URL, res: ServerResponse): void {
  const redirect = new URL(url.searchParams.get('redirect_uri') ?? '');
  redirect.searchParams.set('code', mintCode(url.searchParams.get('nonce'), url.searchParams.get('code_challenge')));
  const state = url.searchParams.get('state');
  if (state) redirect.searchParams.set('state', state);
  res.writeHead(302, { location: redirect.href });
  res.end();
}

/** Starts the provider on 127.0.0.1:`port` (0: any); its issuer is `http://127.0.0.1:<port>`. */
export async function startStubOp(port = 0): Promise<{ issuer: string; server: Server }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'op', alg: 'ES256', use: 'sig' }] };
  let issuer = '';
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        userinfo_endpoint: `${issuer}/userinfo`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        scopes_supported: ['openid', 'profile', 'email'],
      });
    }
    if (url.pathname === '/jwks') return json(res, 200, jwks);
    if (url.pathname === '/authorize') return authorize(url, res);
    if (url.pathname === '/userinfo') {
      const sub = /^Bearer stub-access-token\.(.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? OP_USER.sub;
      return json(res, 200, { ...OP_USER, sub });
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      return void token(req, res, privateKey, issuer).catch(() => json(res, 500, { error: 'server_error' }));
    }
    json(res, 404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { issuer, server };
}
