import { hkdfSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ClientMetadata, Configuration, KoaContextWithOIDC, default as Provider } from 'oidc-provider';
import type { AppClientConfig } from '../config/types.js';
import { isPorteroError, STORE_UNAVAILABLE } from '../errors.js';
import type { SessionClaims } from '../shared/claims.js';
import type { KeyValueStore } from '../store/types.js';
import type { KeySet } from '../tokens/keys.js';
import { storeAdapter } from './op-adapter.js';
import { answerUnavailable, noteFailures, type OpObserver, observe, providerFailureOf } from './op-events.js';
import { logOutEarlierSids } from './op-logout.js';
import { resourceIndicators } from './op-resources.js';
import { mirrorPorteroSessions, type OpSessionLinks, porteroSessionOf, porteroSidOf } from './op-sessions.js';

/**
 * The provider's routes, all set: its defaults `/auth` (forward auth's), `/me` and `/jwks` would
 * take or shadow portero's. `jwks` and `userinfo` name portero's own routes, so the provider's
 * discovery document prints them; the one JWKS is portero's, and portero's `/userinfo` hands the
 * provider's access tokens on.
 */
const OP_ROUTES = {
  authorization: '/authorize',
  token: '/token',
  userinfo: '/userinfo',
  jwks: '/.well-known/jwks.json',
  end_session: '/end-session',
  revocation: '/token/revocation',
  introspection: '/token/introspection',
  pushed_authorization_request: '/par',
  registration: '/register',
  code_verification: '/device',
  device_authorization: '/device/auth',
  backchannel_authentication: '/backchannel',
} as const;

/** What a page of the provider's needs drawn: portero's pages, from the HTTP layer. */
export interface OpPages {
  /** The sign-out confirmation, holding oidc-provider's form (`form`, with its xsrf field). */
  confirmSignOut(form: string, appName: string | undefined): string;
  signedOut(appName: string | undefined): string;
  error(error: { error: string; error_description?: string }): string;
}

/** Where the provider sends a browser for an interaction (`interactions.url`), and the interaction's uid. */
const INTERACTION_PATH = /\/interaction\/([A-Za-z0-9_-]+)$/;

export interface OpenIdProviderDeps {
  /** PUBLIC_URL: the provider's issuer. */
  readonly publicUrl: string;
  readonly apps: readonly AppClientConfig[];
  readonly store: KeyValueStore;
  readonly keys: KeySet;
  /** COOKIE_SECRET first, then the previous ones: the provider's cookie keys are derived from them. */
  readonly cookieSecrets: readonly string[];
  readonly secureCookies: boolean;
  /** Seconds: SESSION_TTL, JWT_TTL (ID and access tokens), FLOW_TTL (a sign-in in progress), PROVIDER_TIMEOUT. */
  readonly ttl: { readonly session: number; readonly token: number; readonly flow: number; readonly providerTimeout: number };
  /** The claims of portero session `sid` while it lives; undefined once it ended, or its user is refused by the access rules now. */
  readonly sessionClaims: (sid: string, use: { readonly activity: boolean }) => Promise<SessionClaims | undefined>;
  readonly links: OpSessionLinks;
  readonly pages: OpPages;
  /**
   * The browser signed out at the provider's end-session endpoint (the apps it signed in to were
   * sent their back-channel logout by the provider): portero's session ends too. Returns the
   * `Set-Cookie` lines that clear portero's token cookie.
   */
  readonly onSignedOut: (request: IncomingMessage) => Promise<readonly string[]>;
  /**
   * The provider sent the browser to interaction `uid`: the `Set-Cookie` lines binding it to this
   * browser, so that a browser given the interaction's cookies by another (cookie tossing from a
   * sibling subdomain) cannot have portero finish it with its own session.
   */
  readonly onInteractionStarted: (uid: string) => readonly string[];
  /** What the provider did, for the log and the metrics. */
  readonly observer: OpObserver;
}

/** An authorization code is exchanged within seconds of being issued; a minute is generous. */
const CODE_TTL = 60;

function clientOf(app: AppClientConfig): ClientMetadata {
  return {
    client_id: app.clientId,
    client_name: app.name,
    redirect_uris: [...app.redirectUris],
    post_logout_redirect_uris: [...app.postLogoutRedirectUris],
    response_types: ['code'],
    grant_types: app.offlineAccess ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
    id_token_signed_response_alg: 'RS256',
    ...(app.secret
      ? { client_secret: app.secret, token_endpoint_auth_method: 'client_secret_basic' }
      : { token_endpoint_auth_method: 'none' }),
    ...(app.backchannelLogoutUri ? { backchannel_logout_uri: app.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
  };
}

/** Whether `origin` is one of the origins of `client`'s registered redirect and post-logout URIs. */
function appOrigins(apps: readonly AppClientConfig[]) {
  const origins = new Map(
    apps.map((app) => [app.clientId, new Set([...app.redirectUris, ...app.postLogoutRedirectUris].map((uri) => new URL(uri).origin))]),
  );
  return (_ctx: unknown, origin: string, client: { clientId: string }) => origins.get(client.clientId)?.has(origin) ?? false;
}

/** The claims of portero's own token an app may have, by scope (`sid` is the provider's to set). */
const CLAIMS = {
  openid: ['sub', 'provider'],
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username', 'picture'],
  groups: ['groups'],
  sid: null,
  auth_time: null,
};

/**
 * The account behind a session: the claims portero's session holds, as long as that session lives.
 * Its sid comes from the token being used (code, access or refresh token) or, in the browser, from
 * the provider session, which mirrors portero's. A session ended at portero is an account not found:
 * its codes, refresh tokens and userinfo stop working with it.
 */
function findAccount(deps: OpenIdProviderDeps): Configuration['findAccount'] {
  return async (ctx, sub, token) => {
    const sid = (token as { sid?: string } | undefined)?.sid ?? porteroSidOf(ctx.oidc?.session) ?? porteroSessionOf(ctx.req)?.sid;
    if (!sid) return undefined;
    // An app exchanging a code or a refresh token is the user active: the session's idle limit starts again.
    const kind = (token as { kind?: string } | undefined)?.kind;
    const claims = await deps.sessionClaims(sid, { activity: kind === 'AuthorizationCode' || kind === 'RefreshToken' });
    if (!claims || claims.sub !== sub) return undefined;
    const { sid: _sid, ...rest } = claims;
    return { accountId: sub, claims: async () => ({ ...rest, sub }) };
  };
}

/**
 * First-party apps: the scopes they ask for (and so those scopes' claims: the `claims` parameter is
 * off) are granted, without a consent page.
 */
async function grantEverythingAsked(ctx: KoaContextWithOIDC) {
  const { client, session, provider } = ctx.oidc;
  if (!client || !session?.accountId) return undefined;
  const existing = session.grantIdFor(client.clientId);
  const grant =
    (existing && (await provider.Grant.find(existing))) || new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
  const asked = [...ctx.oidc.requestParamScopes];
  grant.addOIDCScope(asked.join(' '));
  // An app's own API (`resource`): the scopes of it the app asked for.
  for (const [resource, server] of Object.entries(ctx.oidc.resourceServers ?? {})) {
    const scopes = new Set(server.scope.split(' '));
    grant.addResourceScope(resource, asked.filter((scope) => scopes.has(scope)).join(' '));
  }
  await grant.save();
  return grant;
}

/** The provider's cookie keys, one per cookie secret: derived, so the secret itself signs nothing else. */
const cookieKeys = (secrets: readonly string[]) =>
  secrets.map((secret) => Buffer.from(hkdfSync('sha256', secret, '', 'portero openid-provider cookies', 32)).toString('base64url'));

function appNameOf(ctx: KoaContextWithOIDC): string | undefined {
  return ctx.oidc.client?.clientName ?? undefined;
}

/** oidc-provider's error classes this configuration throws (from the module loaded at run time). */
interface ProviderErrors {
  readonly InvalidGrant: new (description: string) => Error;
  readonly InvalidTarget: new (description?: string) => Error;
}

/**
 * The provider's features as portero sets them: no development pages, no PAR; an app's own APIs;
 * back-channel and RP-initiated logout, on portero's pages.
 */
function features(deps: OpenIdProviderDeps, errors: ProviderErrors): Configuration['features'] {
  return {
    devInteractions: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
    resourceIndicators: resourceIndicators(deps.apps, deps.ttl.token, errors.InvalidTarget),
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.type = 'html';
        ctx.body = deps.pages.confirmSignOut(form, appNameOf(ctx));
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.type = 'html';
        ctx.body = deps.pages.signedOut(appNameOf(ctx));
      },
    },
  };
}

async function configuration(deps: OpenIdProviderDeps, errors: ProviderErrors): Promise<Configuration> {
  const basePath = new URL(deps.publicUrl).pathname.replace(/\/$/, '');
  const { ttl } = deps;
  return {
    adapter: storeAdapter(deps.store, errors.InvalidGrant),
    clients: deps.apps.map(clientOf),
    // The code flow only, as every app is registered: discovery then offers no implicit or hybrid flow.
    responseTypes: ['code'],
    findAccount: findAccount(deps),
    claims: CLAIMS,
    // The scopes' claims in the ID token too, as in portero's own token (not only at userinfo).
    conformIdTokenClaims: false,
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    features: features(deps, errors),
    interactions: { url: (_ctx, interaction) => `${basePath}/interaction/${interaction.uid}` },
    loadExistingGrant: grantEverythingAsked,
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = deps.pages.error(out);
    },
    routes: OP_ROUTES,
    // Required of a public app (PKCE is all that binds its code to the browser), welcome from a
    // confidential one (as Dex and Keycloak, so libraries without it sign in), S256 only.
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none', methods: ['S256'] },
    ttl: {
      AccessToken: ttl.token,
      AuthorizationCode: CODE_TTL,
      IdToken: ttl.token,
      Interaction: ttl.flow,
      Session: ttl.session,
      Grant: ttl.session,
      RefreshToken: ttl.session,
    },
    cookies: {
      keys: cookieKeys(deps.cookieSecrets),
      names: { session: 'portero_op_session', interaction: 'portero_op_interaction', resume: 'portero_op_resume' },
      // Signed (with `keys`): the store keeps a session's id by its uid, so an unsigned cookie naming one must get nothing.
      long: { httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, path: basePath || '/', signed: true },
      short: { httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, path: basePath || '/', signed: true },
    },
    // A single-page app calls the token endpoint and userinfo from its own pages: allowed from the
    // origins of the URIs it registered (Keycloak's "+" web origins), from no other.
    clientBasedCORS: appOrigins(deps.apps),
    // Back-channel logout posts to apps: as long as portero waits for any provider.
    httpOptions: () => ({ signal: AbortSignal.timeout(ttl.providerTimeout * 1000) }),
    // Copies: oidc-provider writes `alg` and `use` into the keys it is given.
    jwks: { keys: deps.keys.providerJwks.map((jwk) => ({ ...jwk })) as never },
  };
}

/**
 * portero's OpenID Provider: oidc-provider (loaded only when an app is configured) on portero's
 * store, keys and sessions. The caller mounts `provider.callback()` under PUBLIC_URL.
 */
async function createOpenIdProvider(deps: OpenIdProviderDeps): Promise<Provider> {
  const { default: OidcProvider, errors } = await import('oidc-provider');
  const provider = new OidcProvider(deps.publicUrl, await configuration(deps, errors));
  // portero decides the scheme, host and client address (TRUSTED_PROXIES) and writes them into
  // X-Forwarded-* before each request reaches the provider (src/http/op-handover.ts).
  provider.proxy = true;
  // `sid` in every ID token, as in portero's own: apps match it against back-channel logout tokens.
  provider.Client.prototype.includeSid = () => true;
  mirrorPorteroSessions(provider, deps.links);
  observe(provider, deps.observer);
  noteFailures(provider);
  provider.use(async (ctx, next) => {
    await next();
    // An interaction begun (the authorization needs portero's sign-in, or its consent): bound to this browser.
    const uid = ctx.status === 303 ? INTERACTION_PATH.exec(ctx.response.get('location') ?? '')?.[1] : undefined;
    if (uid) for (const line of deps.onInteractionStarted(uid)) ctx.append('Set-Cookie', line);
    if (ctx.status === 500 && isPorteroError(providerFailureOf(ctx.req), STORE_UNAVAILABLE)) answerUnavailable(ctx);
    if (ctx.oidc?.route === 'end_session_confirm' && ctx.oidc.session?.destroyed) {
      for (const logout of await logOutEarlierSids(provider, ctx.oidc.session)) deps.observer.appLoggedOut(logout);
      for (const line of await deps.onSignedOut(ctx.req)) ctx.append('Set-Cookie', line);
    }
  });
  return provider;
}

/**
 * The provider of the key set in use, built on first use and again after a reload of JWT_KEYS
 * (oidc-provider's keystore is fixed when it is built; everything else it keeps is in the store,
 * so the new one carries on where the old one stopped).
 */
export class OpenIdProviderHolder {
  readonly #deps: Omit<OpenIdProviderDeps, 'keys'>;
  readonly #keys: () => KeySet;
  #built: { keys: KeySet; provider: Promise<Provider> } | undefined;

  constructor(deps: Omit<OpenIdProviderDeps, 'keys'>, keys: () => KeySet) {
    this.#deps = deps;
    this.#keys = keys;
  }

  get(): Promise<Provider> {
    const keys = this.#keys();
    if (this.#built?.keys !== keys) {
      const provider = createOpenIdProvider({ ...this.#deps, keys });
      this.#built = { keys, provider };
      // A failed build is tried again at the next request rather than kept.
      provider.catch(() => {
        if (this.#built?.provider === provider) this.#built = undefined;
      });
    }
    return this.#built.provider;
  }
}
