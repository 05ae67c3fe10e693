import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyJwk } from '../../src/tokens/keys.js';
import { network, type TestBrowser } from './browser.js';
import { escapeHtml, unescapeHtml } from './html.js';

/** A person with an account at the test provider. */
export interface OpAccount {
  readonly password: string;
  readonly email: string;
  readonly name: string;
  /** The `groups` claim (of the `profile` scope here), as Keycloak or authentik send it. */
  readonly groups: readonly string[];
  /** `email_verified`; true unless said. */
  readonly emailVerified?: boolean;
}

/** The provider's accounts: sign in with one of these user names and its password, nothing else. */
export const OP_ACCOUNTS: Readonly<Record<string, OpAccount>> = Object.freeze({
  alice: { password: 'alice-correct-horse', email: 'alice@corp.example', name: 'Alice Liddell', groups: ['staff', 'admins'] },
  bob: { password: 'bob-battery-staple', email: 'bob@corp.example', name: 'Bob Marley', groups: ['staff'] },
  // An address the IdP has not verified: portero passes no email for her.
  carol: { password: 'carol-staple-horse', email: 'carol@corp.example', name: 'Carol Shaw', groups: ['staff'], emailVerified: false },
});

/** How a client authenticates with its secret at the token endpoint. */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

export interface OidcOp {
  /** `http://127.0.0.1:<port>`: discovery is at `/.well-known/openid-configuration`. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /**
   * How each request to the token endpoint so far authenticated the client: `client_secret_basic`
   * (an `Authorization: Basic` header) or `client_secret_post` (the secret in the form body).
   */
  readonly tokenRequestAuth: readonly ClientAuthMethod[];
  /**
   * Each code exchange at the token endpoint: the code and PKCE verifier the client sent, and the
   * tokens the provider answered with (none when it refused), as they went over the wire.
   */
  readonly tokenExchanges: readonly TokenExchange[];
  /**
   * portero's configuration for this provider, exactly as an operator writes it:
   * `PROVIDER_<ID>_TYPE=oidc`, `_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET`.
   */
  env(id?: string): Record<string, string>;
  close(): Promise<void>;
}

/** One request to the token endpoint, as the provider saw it and answered it. */
export interface TokenExchange {
  readonly code?: string;
  readonly codeVerifier?: string;
  readonly status: number;
  readonly accessToken?: string;
  readonly idToken?: string;
}

export interface OidcOpOptions {
  /** The client's registered redirect URIs, e.g. `${PUBLIC_URL}/callback/corp`. */
  readonly redirectUris: readonly string[];
  readonly clientId?: string;
  /**
   * The host name of its issuer: `127.0.0.1` by default; `localhost` puts it on another site than
   * a portero on `127.0.0.1` (cookies ignore ports, so another port alone is the same site).
   */
  readonly hostName?: '127.0.0.1' | 'localhost';
  /** Where RP-initiated logout may send the browser back (OpenID Connect RP-Initiated Logout 1.0), compared exactly. */
  readonly postLogoutRedirectUris?: readonly string[];
  /**
   * The client's `backchannel_logout_uri`: when set, the provider's back-channel logout is on, it
   * puts `sid` in ID tokens, and posts a logout token there for each session it ends.
   */
  readonly backchannelLogoutUri?: string;
}

/** What of {@link OidcOpOptions} a client registration says. */
type ClientOptions = Pick<OidcOpOptions, 'redirectUris' | 'postLogoutRedirectUris' | 'backchannelLogoutUri'> & {
  id: string;
  secret: string;
};

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;

// The same form shapes as oidc-provider's devInteractions (hidden `prompt`, `login` and `password`),
// so one helper, signInAtOp, plays the user at this provider and at portero's development IdP.
const loginForm = (uid: string, error?: string) =>
  page(
    'Sign in to Corp',
    `${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form autocomplete="off" action="/interaction/${uid}/login" method="post">
  <input type="hidden" name="prompt" value="login"/>
  <input required type="text" name="login" placeholder="User name">
  <input required type="password" name="password" placeholder="Password">
  <button type="submit">Sign in</button>
</form>`,
  );

const consentForm = (uid: string, clientId: string, scopes: readonly string[]) =>
  page(
    'Authorize',
    `<p>${escapeHtml(clientId)} asks for: ${scopes.map(escapeHtml).join(', ') || 'a new authorization'}</p>
<form autocomplete="off" action="/interaction/${uid}/confirm" method="post">
  <input type="hidden" name="prompt" value="consent"/>
  <button type="submit">Continue</button>
</form>`,
  );

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 64 * 1024) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

type Provider = InstanceType<typeof import('oidc-provider')['default']>;

/** Finishes the consent prompt: grants what the provider says is missing, to the grant there is or a new one. */
async function grantConsent(provider: Provider, details: Awaited<ReturnType<Provider['interactionDetails']>>): Promise<string> {
  const { details: missing } = details.prompt;
  const grant = details.grantId
    ? (await provider.Grant.find(details.grantId))!
    : new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
  if (missing.missingOIDCScope) grant.addOIDCScope((missing.missingOIDCScope as string[]).join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims as string[]);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes as Record<string, string[]>)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  return grant.save();
}

/**
 * The provider's own sign-in and consent pages, at `/interaction/<uid>` (GET shows the form of the
 * current prompt) and `/interaction/<uid>/login|confirm` (POST answers it). The password is checked
 * against {@link OP_ACCOUNTS}; a wrong one shows the form again with an alert.
 */
async function interaction(
  provider: Provider,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
  action: string | undefined,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Error', '<p>This sign-in has expired. Start again.</p>'));
  const prompt = details.prompt.name;

  if (req.method === 'GET' && action === undefined) {
    if (prompt === 'login') return send(res, 200, loginForm(uid));
    const scopes = (details.prompt.details.missingOIDCScope as string[] | undefined) ?? [];
    if (prompt === 'consent') return send(res, 200, consentForm(uid, String(details.params.client_id), scopes));
  }

  if (req.method === 'POST' && action === 'login' && prompt === 'login') {
    const form = await readForm(req);
    const login = form.get('login') ?? '';
    const account = Object.hasOwn(OP_ACCOUNTS, login) ? OP_ACCOUNTS[login] : undefined;
    if (!account || form.get('password') !== account.password) return send(res, 200, loginForm(uid, 'Wrong user name or password.'));
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }

  if (req.method === 'POST' && action === 'confirm' && prompt === 'consent') {
    const grantId = await grantConsent(provider, details);
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return send(res, 400, page('Error', `<p>Unexpected ${escapeHtml(req.method ?? '')} at the ${escapeHtml(prompt)} step.</p>`));
}

/** The provider for `issuer`: one confidential client registered for `redirectUris`, the accounts of {@link OP_ACCOUNTS}. */
async function createProvider(issuer: string, client: ClientOptions): Promise<Provider> {
  const { default: OidcProvider } = await import('oidc-provider');
  return new OidcProvider(issuer, {
    clients: [
      {
        client_id: client.id,
        client_secret: client.secret,
        redirect_uris: [...client.redirectUris],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        // As an operator registers a client at most IdPs. Discovery here lists client_secret_basic
        // among the methods, so portero sends the secret by HTTP Basic (src/flow/providers.ts).
        // oidc-provider takes the form body (client_secret_post) for this client too, so
        // tokenRequestAuth records which one arrived.
        token_endpoint_auth_method: 'client_secret_basic',
        ...(client.postLogoutRedirectUris ? { post_logout_redirect_uris: [...client.postLogoutRedirectUris] } : {}),
        ...(client.backchannelLogoutUri
          ? { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: true }
          : {}),
      },
    ],
    async findAccount(_ctx, id) {
      // Unknown accounts are refused, as a real IdP would.
      if (!Object.hasOwn(OP_ACCOUNTS, id)) return undefined;
      const account = OP_ACCOUNTS[id]!;
      return {
        accountId: id,
        claims: async () => ({
          sub: id,
          email: account.email,
          email_verified: account.emailVerified ?? true,
          name: account.name,
          preferred_username: id,
          groups: [...account.groups],
        }),
      };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username', 'groups'] },
    features: { devInteractions: { enabled: false }, backchannelLogout: { enabled: client.backchannelLogoutUri !== undefined } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    jwks: { keys: [(await generateKeyJwk('RS256')) as never] },
  });
}

/**
 * The server's request handler: the sign-in and consent pages at `/interaction/...`, everything
 * else the provider's own. Notes in `tokenRequestAuth` how each token request authenticated.
 */
function handler(provider: Provider, tokenRequestAuth: ClientAuthMethod[]) {
  const callback = provider.callback();
  return (req: IncomingMessage, res: ServerResponse) => {
    const { pathname } = new URL(req.url ?? '/', 'http://op');
    if (req.method === 'POST' && pathname === '/token') {
      tokenRequestAuth.push(/^basic /i.test(req.headers.authorization ?? '') ? 'client_secret_basic' : 'client_secret_post');
    }
    const match = /^\/interaction\/([\w-]+)(?:\/(login|confirm))?$/.exec(pathname);
    if (!match) return void callback(req, res);
    interaction(provider, req, res, match[1]!, match[2]).catch((err: Error) => {
      if (!res.headersSent) send(res, 400, page('Error', `<p>${escapeHtml(err.message)}</p>`));
      else res.end();
    });
  };
}

/** A provider middleware that notes each token request's code and verifier, and the tokens it answered with. */
function recordTokenExchanges(exchanges: TokenExchange[]): Parameters<Provider['use']>[0] {
  return async (ctx, next) => {
    await next();
    if (ctx.oidc?.route !== 'token') return;
    const params = (ctx.oidc.params ?? {}) as Record<string, unknown>;
    const body = (ctx.body ?? {}) as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
    exchanges.push({
      ...(text(params.code) ? { code: text(params.code) } : {}),
      ...(text(params.code_verifier) ? { codeVerifier: text(params.code_verifier) } : {}),
      status: ctx.status,
      ...(text(body.access_token) ? { accessToken: text(body.access_token) } : {}),
      ...(text(body.id_token) ? { idToken: text(body.id_token) } : {}),
    });
  };
}

/**
 * A real OpenID provider (the certified `oidc-provider` package) on 127.0.0.1 and a free port,
 * standing in for a corporate IdP: one confidential client, PKCE required, and the accounts of
 * {@link OP_ACCOUNTS}, whose passwords are checked by its own sign-in page (devInteractions, the
 * package's development pages, would take any user name and any password). Claims: `sub` (the
 * user name), `email`, `email_verified`, `name`, `preferred_username`, `groups`.
 */
export async function startOidcOp(options: OidcOpOptions): Promise<OidcOp> {
  // Listening first: the issuer names the port.
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const issuer = `http://${options.hostName ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`;
  const clientId = options.clientId ?? 'portero';
  const clientSecret = randomBytes(24).toString('base64url');
  const provider = await createProvider(issuer, { ...options, id: clientId, secret: clientSecret });
  const tokenRequestAuth: ClientAuthMethod[] = [];
  const tokenExchanges: TokenExchange[] = [];
  provider.use(recordTokenExchanges(tokenExchanges));
  handle = handler(provider, tokenRequestAuth);

  return {
    issuer,
    clientId,
    clientSecret,
    tokenRequestAuth,
    tokenExchanges,
    env(id = 'corp') {
      const prefix = `PROVIDER_${id.toUpperCase().replaceAll('-', '_')}_`;
      return {
        [`${prefix}TYPE`]: 'oidc',
        [`${prefix}ISSUER`]: issuer,
        [`${prefix}CLIENT_ID`]: clientId,
        [`${prefix}CLIENT_SECRET`]: clientSecret,
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const isRedirect = (response: Response) => response.status >= 300 && response.status < 400;

/** The first form of a page: where it posts, its hidden fields, and the names of all its inputs. */
export function parseForm(html: string, pageUrl: string): { action: string; fields: Record<string, string>; names: string[] } {
  const form = html.match(/<form\b[^>]*>([\s\S]*?)<\/form>/);
  if (!form) throw new Error(`no form on ${pageUrl}:\n${html}`);
  const attribute = form[0].match(/\baction="([^"]*)"/)?.[1];
  const action = attribute === undefined ? pageUrl : unescapeHtml(attribute);
  const fields: Record<string, string> = {};
  const names: string[] = [];
  for (const [input] of form[1]!.matchAll(/<input\b[^>]*>/g)) {
    const name = input.match(/\bname="([^"]*)"/)?.[1];
    if (!name) continue;
    names.push(name);
    if (/\btype="hidden"/.test(input)) fields[name] = input.match(/\bvalue="([^"]*)"/)?.[1] ?? '';
  }
  return { action: new URL(action, pageUrl).href, fields, names };
}

/**
 * Plays the user at an OpenID provider over HTTP: opens `authorizationUrl` (where portero's
 * `/login/<id>` redirected), signs in as `account` with `password` on the provider's login form,
 * agrees on its consent form, and follows redirects as a browser does until one leaves the
 * provider. Returns that address (portero's callback with `code` and `state`) without visiting it,
 * so the caller sees that hop. Throws, with the page, when the provider refuses the sign-in.
 * Works with this file's provider and with oidc-provider's devInteractions (portero's dev IdP).
 */
export async function signInAtOp(browser: TestBrowser, authorizationUrl: string | URL, account: string, password: string): Promise<URL> {
  const provider = new URL(authorizationUrl).origin;
  let url = String(authorizationUrl);
  let response = await browser.get(network, url);
  let signedIn = false;
  for (let steps = 0; steps < 20; steps++) {
    if (isRedirect(response)) {
      const next = new URL(response.headers.get('location')!, url);
      if (next.origin !== provider) return next;
      url = next.href;
      response = await browser.get(network, url);
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) throw new Error(`the provider answered ${response.status} at ${url}:\n${html}`);
    const form = parseForm(html, url);
    let fields: Record<string, string>;
    if (form.names.includes('password')) {
      // The login form again after a submitted password: the provider refused it.
      if (signedIn) throw new Error(`the provider refused the sign-in of ${JSON.stringify(account)}:\n${html}`);
      signedIn = true;
      fields = { ...form.fields, login: account, password };
    } else if (form.fields.prompt === 'consent') {
      fields = form.fields;
    } else {
      throw new Error(`neither a login nor a consent form at ${url}:\n${html}`);
    }
    url = form.action;
    response = await browser.request(network, url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
  throw new Error(`still at the provider after 20 steps from ${String(authorizationUrl)} (last: ${url})`);
}

/**
 * The provider's "sign out?" page at `url` (its end_session endpoint, where portero's /logout
 * sends the browser), answered "yes" as a person clicks it: where the provider sends the browser then.
 */
export async function confirmSignOutAtOp(browser: TestBrowser, url: string | URL, from: string): Promise<URL> {
  const confirm = await browser.get(network, url, undefined, { from });
  if (confirm.status !== 200) throw new Error(`the provider answered ${confirm.status} at ${url}:\n${await confirm.text()}`);
  const form = parseForm(await confirm.text(), String(url));
  const done = await browser.request(network, form.action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...form.fields, logout: 'yes' }).toString(),
  });
  if (!isRedirect(done)) throw new Error(`the provider answered ${done.status} to the sign-out:\n${await done.text()}`);
  return new URL(done.headers.get('location')!, String(url));
}
