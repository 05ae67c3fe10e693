import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { network, type TestBrowser } from './browser.js';
import { escapeHtml } from './html.js';
import { parseForm } from './oidc-op.js';

// A GitHub Enterprise Server as portero meets it: its OAuth pages and token endpoint at
// `<URL>/login/oauth/...`, its REST API at `<URL>/api/v3`. Answers as GitHub documents them:
// - "Authorizing OAuth apps": GET /login/oauth/authorize, then the callback with `code` and `state`;
// - "Troubleshooting authorization request errors": a Cancel comes back as
//   `error=access_denied&error_description=The+user+has+denied+your+application+access.&error_uri=...`;
// - "Troubleshooting OAuth app access token request errors": the token endpoint answers its errors
//   with HTTP 200 and `{"error": "bad_verification_code", ...}`, as JSON only when asked by `Accept`;
// - REST: GET /user, /user/emails, /user/orgs, /user/teams; a bad token is 401 `Bad credentials`.

/** GET /api/v3/user ("Get the authenticated user"), the fields portero reads and a few it does not. */
export interface GhesUser {
  readonly id?: number;
  readonly login: string;
  readonly name: string | null;
  /** The public email, which any user may set to any of their addresses: portero never reads it. */
  readonly email: string | null;
  readonly avatar_url: string;
  readonly [field: string]: unknown;
}

/** One entry of GET /api/v3/user/emails. */
export interface GhesEmail {
  readonly email: string;
  readonly primary: boolean;
  readonly verified: boolean;
  readonly visibility: 'public' | 'private' | null;
}

export interface FakeGhesOptions {
  /** The OAuth app's registered callback URL (`<PUBLIC_URL>/callback/<id>`). */
  readonly callbackUrl: string;
}

interface Grant {
  readonly redirectUri: string;
  readonly state: string | null;
  readonly challenge: string | null;
  readonly scope: string;
}

const DOCS = 'https://docs.github.com/enterprise-server@latest';
const TOKEN_ERRORS = {
  incorrect_client_credentials: 'The client_id and/or client_secret passed are incorrect.',
  redirect_uri_mismatch: 'The redirect_uri MUST match the registered callback URL for this application.',
  bad_verification_code: 'The code passed is incorrect or expired.',
} as const;

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers }).end(body);
}

const sendJson = (res: ServerResponse, status: number, body: unknown) =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));

function redirect(res: ServerResponse, to: string, params: Record<string, string | null>): void {
  const url = new URL(to);
  for (const [name, value] of Object.entries(params)) if (value !== null) url.searchParams.set(name, value);
  send(res, 302, 'text/html; charset=utf-8', '', { location: url.href });
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 64 * 1024) throw new Error('body too large');
  }
  return body;
}

/**
 * A fake GitHub Enterprise Server: a real HTTP server on 127.0.0.1 and a port the kernel picks as
 * it binds (no gap in which another process could take it), with one OAuth app and one signed-in
 * user, whose authorization page a test answers as a person would ({@link FakeGhes.authorize}).
 * Codes are single-use and PKCE-bound (S256); access tokens are checked on every API request.
 *
 * @example
 * ```ts
 * const ghes = await FakeGhes.start({ callbackUrl: 'https://gateway.test/callback/ghe' });
 * const app = await buildTestApp({ store, env: ghes.env('ghe') });
 * ```
 */
export class FakeGhes {
  readonly clientId = 'ghes0123456789abcdef';
  readonly clientSecret = randomBytes(20).toString('hex');
  user: GhesUser = { id: 1, login: 'octocat', name: 'The Octocat', email: null, avatar_url: '' };
  emails: GhesEmail[] = [];
  orgs: { readonly login: string; readonly id: number }[] = [];
  teams: { readonly slug: string; readonly organization: { readonly login: string } }[] = [];
  /** Every request it received, as `GET /api/v3/user` (the path, no query). */
  readonly requests: string[] = [];
  readonly #server: Server;
  readonly #callbackUrl: string;
  /** Authorization pages shown and not answered yet, by the id in their form. */
  readonly #pending = new Map<string, Grant>();
  readonly #codes = new Map<string, Grant>();
  readonly #tokens = new Set<string>();
  /** Everything it handed out that must never be shown or logged: codes and access tokens. */
  readonly #handedOut: string[] = [];
  readonly #failures = new Map<string, number>();

  private constructor(server: Server, options: FakeGhesOptions) {
    this.#server = server;
    this.#callbackUrl = options.callbackUrl;
  }

  static async start(options: FakeGhesOptions): Promise<FakeGhes> {
    const server = createServer();
    const ghes = new FakeGhes(server, options);
    server.on('request', (req, res) => {
      ghes.#answer(req, res).catch((err: Error) => {
        if (!res.headersSent) send(res, 500, 'text/plain', `fake GHES: ${err.message}`);
        else res.end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return ghes;
  }

  /** `http://127.0.0.1:<port>`: the server's base URL, `PROVIDER_<ID>_URL`. */
  get origin(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** portero's configuration for it, as an operator writes it: `_TYPE=github`, `_URL`, the app's id and secret. */
  env(id = 'ghe'): Record<string, string> {
    const prefix = `PROVIDER_${id.toUpperCase().replaceAll('-', '_')}_`;
    return {
      [`${prefix}TYPE`]: 'github',
      [`${prefix}URL`]: this.origin,
      [`${prefix}CLIENT_ID`]: this.clientId,
      [`${prefix}CLIENT_SECRET`]: this.clientSecret,
    };
  }

  /** The client secret, and every code and access token handed out so far: what no page or log line may hold. */
  get secrets(): readonly string[] {
    return [this.clientSecret, ...this.#handedOut];
  }

  /** From now on `path` (`/api/v3/user`) answers `status` with GitHub's error body, instead of its data. */
  fail(path: string, status: number): void {
    this.#failures.set(path, status);
  }

  /** Every code handed out so far expires, as GitHub's do after ten minutes. */
  expireCodes(): void {
    this.#codes.clear();
  }

  /** Every path answers again; the request log starts anew. */
  reset(): void {
    this.#failures.clear();
    this.requests.length = 0;
  }

  /**
   * Plays the signed-in user at the authorization page `authorizationUrl` (where portero sent the
   * browser): opens it, presses Authorize or Cancel. Returns where GitHub then sends the browser
   * (the callback, with `code` and `state` or `error`), without visiting it.
   */
  async authorize(browser: TestBrowser, authorizationUrl: string | URL, decision: 'authorize' | 'cancel'): Promise<URL> {
    const url = String(authorizationUrl);
    const shown = await browser.get(network, url);
    if (shown.status === 302) return new URL(shown.headers.get('location')!);
    const html = await shown.text();
    if (shown.status !== 200) throw new Error(`the fake GHES answered ${shown.status} at ${url}:\n${html}`);
    const form = parseForm(html, url);
    const answered = await browser.request(network, form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, authorize: decision === 'authorize' ? '1' : '0' }).toString(),
    });
    if (answered.status !== 302) throw new Error(`the fake GHES answered ${answered.status} to the ${decision} button`);
    return new URL(answered.headers.get('location')!);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }

  async #answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const route = `${req.method} ${url.pathname}`;
    this.requests.push(route);
    if (route === 'GET /login/oauth/authorize') return this.#authorizationPage(url.searchParams, res);
    if (route === 'POST /login/oauth/authorize') return this.#decided(new URLSearchParams(await readBody(req)), res);
    if (route === 'POST /login/oauth/access_token') return this.#token(req, new URLSearchParams(await readBody(req)), res);
    if (req.method === 'GET' && url.pathname.startsWith('/api/v3/')) return this.#api(req, url.pathname, res);
    sendJson(res, 404, { message: 'Not Found', documentation_url: `${DOCS}/rest` });
  }

  /** "Authorize <app>": the user sees who asks for what, and answers with one of two buttons. */
  #authorizationPage(params: URLSearchParams, res: ServerResponse) {
    if (params.get('client_id') !== this.clientId) return send(res, 404, 'text/html; charset=utf-8', page('Not Found', ''));
    const state = params.get('state');
    const redirectUri = params.get('redirect_uri') ?? this.#callbackUrl;
    if (redirectUri !== this.#callbackUrl) {
      return redirect(res, this.#callbackUrl, {
        error: 'redirect_uri_mismatch',
        error_description: TOKEN_ERRORS.redirect_uri_mismatch,
        error_uri: '/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch',
        state,
      });
    }
    const id = randomBytes(12).toString('hex');
    const scope = params.get('scope') ?? '';
    this.#pending.set(id, { redirectUri, state, challenge: params.get('code_challenge'), scope });
    const body = `<p>Signed in as <strong>${escapeHtml(this.user.login)}</strong>. The app asks for: ${escapeHtml(scope || 'public data')}.</p>
<form method="post" action="/login/oauth/authorize">
  <input type="hidden" name="authorization_request" value="${id}">
  <button type="submit" name="authorize" value="0">Cancel</button>
  <button type="submit" name="authorize" value="1">Authorize ${escapeHtml(this.user.login)}</button>
</form>`;
    send(res, 200, 'text/html; charset=utf-8', page('Authorize portero', body));
  }

  /** The button pressed: back to the callback with a code, or with GitHub's access_denied. */
  #decided(form: URLSearchParams, res: ServerResponse) {
    const id = form.get('authorization_request') ?? '';
    const grant = this.#pending.get(id);
    this.#pending.delete(id);
    if (!grant) return send(res, 422, 'text/html; charset=utf-8', page('This authorization request expired', ''));
    if (form.get('authorize') !== '1') {
      return redirect(res, grant.redirectUri, {
        error: 'access_denied',
        error_description: 'The user has denied your application access.',
        error_uri: '/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied',
        state: grant.state,
      });
    }
    const code = randomBytes(10).toString('hex');
    this.#codes.set(code, grant);
    this.#handedOut.push(code);
    redirect(res, grant.redirectUri, { code, state: grant.state });
  }

  /** The code exchange. Every answer is HTTP 200, errors included; JSON only with `Accept: application/json`. */
  #token(req: IncomingMessage, form: URLSearchParams, res: ServerResponse) {
    const answer = (body: Record<string, string>) =>
      (req.headers.accept ?? '').includes('application/json')
        ? sendJson(res, 200, body)
        : send(res, 200, 'application/x-www-form-urlencoded; charset=utf-8', new URLSearchParams(body).toString());
    const refuse = (error: keyof typeof TOKEN_ERRORS) =>
      answer({
        error,
        error_description: TOKEN_ERRORS[error],
        error_uri: `/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#${error.replaceAll('_', '-')}`,
      });
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const [id, secret] = basic
      ? Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent)
      : [form.get('client_id'), form.get('client_secret')];
    if (id !== this.clientId || secret !== this.clientSecret) return refuse('incorrect_client_credentials');
    const code = form.get('code') ?? '';
    const grant = this.#codes.get(code);
    this.#codes.delete(code);
    if (!grant) return refuse('bad_verification_code');
    if (form.has('redirect_uri') && form.get('redirect_uri') !== grant.redirectUri) return refuse('redirect_uri_mismatch');
    const verifier = form.get('code_verifier') ?? '';
    if (grant.challenge !== null && grant.challenge !== createHash('sha256').update(verifier).digest('base64url'))
      return refuse('bad_verification_code');
    const token = `gho_${randomBytes(18).toString('base64url')}`;
    this.#tokens.add(token);
    this.#handedOut.push(token);
    answer({ access_token: token, token_type: 'bearer', scope: grant.scope.split(' ').filter(Boolean).join(',') });
  }

  /** The REST API: the signed-in user's data to a valid token (`Bearer` or GitHub's own `token` scheme). */
  #api(req: IncomingMessage, path: string, res: ServerResponse) {
    const token = /^(?:Bearer|token) (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const failure = this.#failures.get(path);
    if (failure === 401 || !token || !this.#tokens.has(token))
      return sendJson(res, 401, { message: 'Bad credentials', documentation_url: `${DOCS}/rest` });
    if (failure !== undefined) return sendJson(res, failure, { message: failure >= 500 ? 'Server Error' : 'Forbidden' });
    const data: Record<string, unknown> = {
      '/api/v3/user': this.user,
      '/api/v3/user/emails': this.emails,
      '/api/v3/user/orgs': this.orgs,
      '/api/v3/user/teams': this.teams,
    };
    if (!Object.hasOwn(data, path)) return sendJson(res, 404, { message: 'Not Found', documentation_url: `${DOCS}/rest` });
    sendJson(res, 200, data[path]);
  }
}
