import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import type { default as Provider } from 'oidc-provider';
import { INTERNAL, PorteroError } from '../errors.js';
import { providerFailureOf } from '../flow/op-events.js';
import { attachPorteroSession, type PorteroSessionRef } from '../flow/op-sessions.js';
import type { EndedSession } from '../flow/session-lifecycle.js';
import type { AppEnv } from './types.js';

/** What `@hono/node-server` reads as "the response was written on the socket already": it writes nothing more. */
const ALREADY_SENT = 'x-hono-already-sent';
/**
 * Node's own Response class, which `RESPONSE_ALREADY_SENT` is made with: once serving,
 * `@hono/node-server` puts a lightweight Response in its place, whose instances it writes out
 * without looking for the mark.
 */
const NativeResponse = RESPONSE_ALREADY_SENT.constructor as typeof Response;

export interface HandOverOptions {
  /** PUBLIC_URL: the scheme and host the provider is told the request came to, whatever it said. */
  readonly publicUrl: URL;
  /** The headers portero's own pages have (CSP, framing, referrer), set before the provider writes. */
  readonly securityHeaders: Promise<Readonly<Record<string, string>>>;
}

/** Node's request and response under the Hono context: the provider is a koa app, and takes them. */
export function nodeOf(c: Context<AppEnv>): { incoming: IncomingMessage; outgoing: ServerResponse } {
  const env = c.env as HttpBindings | undefined;
  if (!env?.incoming) throw new PorteroError(INTERNAL, 'the OpenID Provider needs Node’s HTTP server (@hono/node-server)');
  return { incoming: env.incoming, outgoing: env.outgoing };
}

/**
 * The response the Hono chain sees for a request the provider answered: its status (for the
 * request log and the metrics), and the mark that makes `@hono/node-server` write nothing more.
 */
export function sentByProvider(outgoing: ServerResponse): Response {
  return new NativeResponse(null, { status: outgoing.statusCode, headers: { [ALREADY_SENT]: 'true' } });
}

/**
 * What every answer of portero's carries (its security headers, the request id), set on Node's
 * response before the provider, or oidc-provider's `interactionFinished`, writes it: Hono's
 * middleware never sees a response written so.
 */
export async function setPorteroHeaders(c: Context<AppEnv>, outgoing: ServerResponse, options: HandOverOptions): Promise<void> {
  for (const [name, value] of Object.entries(await options.securityHeaders)) outgoing.setHeader(name, value);
  outgoing.setHeader('x-request-id', c.get('requestId'));
}

/**
 * HEAD, answered 405 before the provider writes anything: Hono answers a HEAD by running the GET
 * route and wrapping its response in a new one, which `@hono/node-server` then writes although the
 * provider already wrote its own (an error on the console for every HEAD, which anyone can send).
 */
export function refuseHead(c: Context<AppEnv>): Response | undefined {
  return c.req.method === 'HEAD' ? c.body(null, 405, { allow: 'GET, POST' }) : undefined;
}

/**
 * The request target as a path and query only. In absolute form (`GET http://evil.example/token`,
 * RFC 9112 3.2.2), which Node passes on as it came, koa takes the origin of every URL it writes
 * (`ctx.href`) from the target itself, not from X-Forwarded-*: the discovery document would name
 * another host's endpoints to whoever, a shared cache included, fetched it so.
 */
function originForm(target = '/'): string {
  if (target.startsWith('/')) return target;
  const path = target.replace(/^[^/?#]*\/\/[^/?#]*/, '');
  return path.startsWith('/') ? path : `/${path}`;
}

/**
 * Hands a request to the provider as Node's own. Its path loses PUBLIC_URL's (koa's router matches
 * inside the mount; `baseUrl`, as Express would set it, gives oidc-provider its mount path for the
 * URLs it writes). The proxy headers are replaced by what portero decided: PUBLIC_URL's scheme and
 * host, and the client address `clientAddress` resolved through TRUSTED_PROXIES, so a client's own
 * X-Forwarded-* never reaches the provider, with or without a proxy in front. `session` is the
 * portero session of a browser request (its provider session is made to mirror it); `undefined`
 * for the routes an app's servers call.
 */
export async function handOver(
  c: Context<AppEnv>,
  provider: Provider,
  options: HandOverOptions,
  session?: PorteroSessionRef | null,
): Promise<Response> {
  const refused = refuseHead(c);
  if (refused) return refused;
  const { incoming, outgoing } = nodeOf(c);
  const basePath = c.get('basePath');
  const request = incoming as IncomingMessage & { baseUrl?: string };
  request.url = originForm(request.url);
  if (basePath && request.url.startsWith(basePath)) request.url = request.url.slice(basePath.length) || '/';
  request.baseUrl = basePath;
  request.headers['x-forwarded-proto'] = options.publicUrl.protocol.slice(0, -1);
  request.headers['x-forwarded-host'] = options.publicUrl.host;
  request.headers['x-forwarded-for'] = c.get('client')?.address ?? incoming.socket.remoteAddress ?? '';
  delete request.headers.forwarded;
  if (session !== undefined) attachPorteroSession(incoming, session);
  await setPorteroHeaders(c, outgoing, options);
  await provider.callback()(incoming, outgoing);
  // Its 500 logged as portero's own are: the error's code, and a bug with its stack.
  const failure = providerFailureOf(incoming);
  if (failure !== undefined) {
    c.set(
      'error',
      failure instanceof PorteroError ? failure : new PorteroError(INTERNAL, 'the OpenID Provider failed', { cause: failure }),
    );
  }
  return sentByProvider(outgoing);
}

/**
 * The headers `middleware` (portero's security headers) puts on a response of portero's, for the
 * provider's responses, with `script-src 'report-sample'`: it allows no script, but is a
 * `script-src` that oidc-provider adds the hash of its one inline script to (the form_post page's
 * automatic submit, `lib/helpers/script_src_sha.js`).
 */
export async function providerSecurityHeaders(middleware: MiddlewareHandler): Promise<Record<string, string>> {
  const probe = new Hono();
  probe.use(middleware);
  probe.get('/', (c) => c.body(null, 204));
  const headers = Object.fromEntries((await probe.request('/')).headers.entries());
  const csp = headers['content-security-policy'];
  if (csp) headers['content-security-policy'] = `${csp}; script-src 'report-sample'`;
  return headers;
}

const ENDED = Symbol('portero session ended at the provider');

/** The session a sign-out at the provider's end-session endpoint ended, noted on its request for the request log. */
export function noteEnded(request: IncomingMessage, ended: EndedSession): void {
  (request as IncomingMessage & { [ENDED]?: EndedSession })[ENDED] = ended;
}

export const endedOn = (request: IncomingMessage): EndedSession | undefined =>
  (request as IncomingMessage & { [ENDED]?: EndedSession })[ENDED];
