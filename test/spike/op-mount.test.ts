// SPIKE (issue 11): oidc-provider mounted inside a Hono app under PUBLIC_URL's path, on portero's
// MemoryStore, with openid-client as the app. Findings in docs/op-design.md.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HttpBindings, serve } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Configuration, KoaContextWithOIDC, default as Provider } from 'oidc-provider';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { MemoryStore } from '../../src/store/memory.js';
import { buildKeySet, generateKeyJwk } from '../../src/tokens/keys.js';
import { storeAdapter } from '../../src/flow/op-adapter.js';

type Env = { Bindings: HttpBindings };
const BASE = '/sso';
const ACCOUNT = 'corp:alice';
const CLIENT_ID = 'app-one';
const CLIENT_SECRET = randomBytes(24).toString('base64url');

/** The provider's routes, set so that none is one of portero's own (its default `/auth` is forward auth's). */
const ROUTES = {
  authorization: '/authorize',
  token: '/token',
  userinfo: '/userinfo', // portero's route, which hands the provider's tokens on (below)
  jwks: '/.well-known/jwks.json', // portero's route: the one JWKS
  end_session: '/end-session',
  pushed_authorization_request: '/par',
  revocation: '/token/revocation',
  introspection: '/token/introspection',
  registration: '/register',
  code_verification: '/device',
  device_authorization: '/device/auth',
  backchannel_authentication: '/backchannel',
};

/**
 * Hands a request to the provider as node's own: the path without PUBLIC_URL's (koa's router
 * matches inside the mount; `baseUrl`, as Express sets it, gives `ctx.oidc.urlFor` the mount path),
 * and the proxy headers replaced by what portero decided (PUBLIC_URL's scheme and host, the client
 * address it resolved through TRUSTED_PROXIES), so a client's own X-Forwarded-* never reaches it.
 */
function toProvider(provider: () => Provider, publicUrl: () => URL) {
  return async (c: { env: HttpBindings }, clientAddress: string) => {
    const { incoming, outgoing } = c.env;
    const url = publicUrl();
    const request = incoming as IncomingMessage & { baseUrl?: string };
    request.url = request.url!.slice(BASE.length) || '/';
    request.baseUrl = BASE;
    request.headers['x-forwarded-proto'] = url.protocol.slice(0, -1);
    request.headers['x-forwarded-host'] = url.host;
    request.headers['x-forwarded-for'] = clientAddress;
    await provider().callback()(incoming, outgoing);
    return RESPONSE_ALREADY_SENT;
  };
}

/** First-party apps: everything they ask for of the provider's scopes is granted, no consent page. */
async function grantEverythingAsked(ctx: KoaContextWithOIDC) {
  const { client: app, session, provider } = ctx.oidc;
  const existing = session!.grantIdFor(app!.clientId);
  const grant =
    (existing && (await provider.Grant.find(existing))) || new provider.Grant({ clientId: app!.clientId, accountId: session!.accountId! });
  grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
  await grant.save();
  return grant;
}

async function configuration(redirectUri: string, jwk: object, adapter: Configuration['adapter']): Promise<Configuration> {
  return {
    adapter,
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    async findAccount(_ctx, sub) {
      const [provider] = sub.split(':');
      return {
        accountId: sub,
        claims: async () => ({ sub, provider, email: 'alice@corp.example', email_verified: true, name: 'Alice Liddell' }),
      };
    },
    claims: { sid: null, auth_time: null, openid: ['sub', 'provider'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    interactions: { url: (_ctx, interaction) => `${BASE}/interaction/${interaction.uid}` },
    loadExistingGrant: grantEverythingAsked,
    routes: ROUTES,
    pkce: { required: () => true },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    jwks: { keys: [{ ...jwk }] as never },
  };
}

/** A browser without JavaScript: follows redirects by hand, keeps cookies by name (paths ignored). */
async function browse(start: URL, stopAt: string): Promise<URL> {
  const jar = new Map<string, string>();
  let url = start;
  for (let hops = 0; hops < 10; hops++) {
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, value] = pair!.split('=') as [string, string];
      if (value) jar.set(name, value);
      else jar.delete(name);
    }
    const location = response.headers.get('location');
    if (!location) throw new Error(`no redirect at ${url}: ${response.status} ${await response.text()}`);
    url = new URL(location, url);
    if (url.href.startsWith(stopAt)) return url;
  }
  throw new Error('too many redirects');
}

describe('SPIKE: oidc-provider mounted in Hono under PUBLIC_URL', () => {
  const store = new MemoryStore(systemClock);
  let provider: Provider;
  let publicUrl: URL;
  let server: ReturnType<typeof serve>;
  let keys: Awaited<ReturnType<typeof buildKeySet>>;

  beforeAll(async () => {
    const jwk = await generateKeyJwk('RS256');
    keys = await buildKeySet([jwk], 'RS256');
    const handOver = toProvider(
      () => provider,
      () => publicUrl,
    );
    const root = new Hono<Env>({ strict: false });
    const app = root.basePath(BASE);
    // portero's own routes stay portero's: forward auth, the JWKS.
    app.get('/auth', (c) => c.text('forward auth', 401));
    app.get('/.well-known/jwks.json', (c) => c.json(keys.publicJwks));
    // portero's /userinfo keeps its own tokens; the provider's (opaque) ones are handed on.
    app.on(['GET', 'POST'], '/userinfo', (c) => handOver(c, c.env.incoming.socket.remoteAddress ?? ''));
    app.get('/interaction/:uid', async (c) => {
      const { incoming, outgoing } = c.env;
      const details = await provider.interactionDetails(incoming, outgoing);
      // portero: with a session, finish at once (SSO); without, send to /login/<provider> with return_to here.
      expect(details.prompt.name).toBe('login');
      await provider.interactionFinished(incoming, outgoing, { login: { accountId: ACCOUNT } }, { mergeWithLastSubmission: false });
      return RESPONSE_ALREADY_SENT;
    });
    for (const path of ['/.well-known/openid-configuration', '/authorize', '/authorize/*', '/token', '/end-session', '/end-session/*']) {
      app.all(path, (c) => handOver(c, c.env.incoming.socket.remoteAddress ?? ''));
    }
    server = serve({ fetch: root.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    publicUrl = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}${BASE}`);
    const { default: OidcProvider, errors } = await import('oidc-provider');
    const settings = await configuration(`${publicUrl.origin}/app/cb`, jwk, storeAdapter(store, errors.InvalidGrant));
    provider = new OidcProvider(publicUrl.href, settings);
    provider.proxy = true; // believes X-Forwarded-*, which toProvider always rewrites
    // `sid` goes in ID tokens only for clients with backchannel_logout_session_required; portero wants it always.
    provider.Client.prototype.includeSid = () => true;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as unknown as { closeAllConnections(): void }).closeAllConnections();
    });
    await store.close();
  });

  it('publishes its endpoints under PUBLIC_URL, with portero’s issuer, JWKS and userinfo, whatever X-Forwarded-Host says', async () => {
    const response = await fetch(`${publicUrl.href}/.well-known/openid-configuration`, { headers: { 'x-forwarded-host': 'evil.example' } });
    const metadata = (await response.json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      issuer: publicUrl.href,
      authorization_endpoint: `${publicUrl.href}/authorize`,
      token_endpoint: `${publicUrl.href}/token`,
      jwks_uri: `${publicUrl.href}/.well-known/jwks.json`,
      userinfo_endpoint: `${publicUrl.href}/userinfo`,
      end_session_endpoint: `${publicUrl.href}/end-session`,
      code_challenge_methods_supported: ['S256'],
    });
    expect((await fetch(`${publicUrl.href}/auth`)).status).toBe(401);
  });

  it('runs the authorization code flow with PKCE for openid-client: the ID token verifies at portero’s JWKS, userinfo answers', async () => {
    const redirectUri = `${publicUrl.origin}/app/cb`;
    const config = await client.discovery(publicUrl, CLIENT_ID, CLIENT_SECRET, client.ClientSecretBasic(CLIENT_SECRET), {
      execute: [client.allowInsecureRequests],
    });
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const callback = await browse(authorizationUrl, redirectUri);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });

    const jwks = createRemoteJWKSet(new URL(`${publicUrl.href}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, jwks, { issuer: publicUrl.href, audience: CLIENT_ID });
    expect(protectedHeader).toMatchObject({ alg: 'RS256', kid: keys.signing.kid });
    expect(payload).toMatchObject({ sub: ACCOUNT, nonce });
    expect(payload.sid).toEqual(expect.any(String)); // only because includeSid is patched (see beforeAll)
    expect(tokens.refresh_token).toBeUndefined(); // no offline_access asked

    const userinfo = await client.fetchUserInfo(config, tokens.access_token, ACCOUNT);
    expect(userinfo).toEqual({ sub: ACCOUNT, provider: 'corp', email: 'alice@corp.example', email_verified: true, name: 'Alice Liddell' });

    // The code is single-use: a second exchange is refused, and the grant's tokens are revoked.
    await expect(
      client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }),
    ).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    await expect(client.fetchUserInfo(config, tokens.access_token, ACCOUNT)).rejects.toThrow();
  });
});
