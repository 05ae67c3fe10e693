import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getResponse, type HttpHandler } from 'msw';

/**
 * How an endpoint of a {@link HostileProvider} misbehaves:
 * - `hang`: accepts the connection and the request, never answers;
 * - `drip`: answers 200 JSON headers and `{`, then one space every {@link DRIP_INTERVAL_MS}, never finishing;
 * - `html`: 200 with an HTML error page (as a proxy or a login wall in front of the provider would);
 * - `huge`: 200 JSON without a length, streaming for as long as it is read (gigabytes, if let);
 * - `oauth-error`: 200 with an OAuth error body, `{"error": "invalid_grant", ...}`;
 * - `not-json`: 200 `application/json` whose body is not JSON.
 * Each body that a person could see holds {@link BODY_SECRET}, which must reach neither a page nor the log.
 */
export type Misbehaviour = 'hang' | 'drip' | 'html' | 'huge' | 'oauth-error' | 'not-json';

export const DRIP_INTERVAL_MS = 200;
/** Short and first in a body that is not JSON, so even the 10 characters a `SyntaxError` quotes would show it. */
export const BODY_SECRET = 'S3CR3T';

/** Where a mock provider's well-behaved answers come from: its msw handlers, run here for real. */
export interface Upstream {
  handlers(): HttpHandler[];
}

const CHUNK = Buffer.alloc(64 * 1024, ' ');

/**
 * A real HTTP server on 127.0.0.1 (a free port) in front of a mock provider: each path answers as
 * the mock does (its msw handlers, run by this server, not by intercepting fetch), unless told to
 * misbehave. So the gateway meets a provider over real sockets: one that hangs, drips, answers
 * HTML or gigabytes. It counts requests per path, what is still open, and the bytes it streamed.
 *
 * @example
 * ```ts
 * const provider = await HostileProvider.start();
 * provider.upstream = await new MockOidcProvider(provider.origin).init();
 * provider.misbehave('/token', 'hang');
 * ```
 */
export class HostileProvider {
  /** The well-behaved provider behind it; set it once the origin is known. */
  upstream: Upstream | undefined;
  /** Bytes streamed by `huge` answers. */
  hugeBytesSent = 0;
  readonly #server: Server;
  readonly #misbehaviours = new Map<string, { how: Misbehaviour; times: number }>();
  readonly #requests = new Map<string, number>();
  /** Requests received whose answer is neither finished nor cut off by the client. */
  readonly #open = new Set<IncomingMessage>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #holds = new Map<string, { readonly released: Promise<void>; arrive(): void }>();

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<HostileProvider> {
    const server = createServer();
    const provider = new HostileProvider(server);
    server.on('request', (request, response) => provider.#answer(request, response));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return provider;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** From now on, `pathname` misbehaves so (`times` requests, every one by default). */
  misbehave(pathname: string, how: Misbehaviour, options: { times?: number } = {}): void {
    this.#misbehaviours.set(pathname, { how, times: options.times ?? Number.POSITIVE_INFINITY });
  }

  /**
   * From now on, requests to `pathname` wait unanswered until `release()`, then get the upstream's
   * answer: a provider slow for as long as the test needs. `arrived` resolves once one is waiting.
   */
  hold(pathname: string): { readonly arrived: Promise<void>; release(): void } {
    let arrive!: () => void;
    let release!: () => void;
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#holds.set(pathname, { released, arrive });
    return { arrived, release };
  }

  /** Every path behaves again. */
  behave(): void {
    this.#misbehaviours.clear();
    this.#holds.clear();
  }

  /** Every path behaves again, and the counts start from zero (between tests). */
  reset(): void {
    this.behave();
    this.#requests.clear();
    this.hugeBytesSent = 0;
  }

  /** How many requests `pathname` received. */
  requests(pathname: string): number {
    return this.#requests.get(pathname) ?? 0;
  }

  /** Requests still waiting for (the rest of) their answer on an open connection: what a client left behind. */
  get openRequests(): number {
    return this.#open.size;
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }

  #answer(request: IncomingMessage, response: ServerResponse): void {
    const { pathname } = new URL(request.url ?? '/', this.origin);
    this.#requests.set(pathname, this.requests(pathname) + 1);
    this.#open.add(request);
    const done = () => this.#open.delete(request);
    response.on('finish', done);
    response.on('close', done);
    const misbehaviour = this.#misbehaviours.get(pathname);
    if (misbehaviour && misbehaviour.times > 0) {
      misbehaviour.times--;
      this.#misbehave(misbehaviour.how, response);
      return;
    }
    const held = this.#holds.get(pathname);
    held?.arrive();
    (held?.released ?? Promise.resolve())
      .then(() => this.#forward(request, response))
      .catch((err: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`hostile provider: ${(err as Error).message}`);
      });
  }

  #misbehave(how: Misbehaviour, response: ServerResponse): void {
    switch (how) {
      case 'hang':
        return;
      case 'drip': {
        response.writeHead(200, { 'content-type': 'application/json' }).write('{');
        const timer = setInterval(() => response.write(' '), DRIP_INTERVAL_MS);
        this.#timers.add(timer);
        response.on('close', () => {
          clearInterval(timer);
          this.#timers.delete(timer);
        });
        return;
      }
      case 'html':
        response.writeHead(200, { 'content-type': 'text/html' }).end(`<html><body><h1>Bad gateway</h1><p>${BODY_SECRET}</p></body></html>`);
        return;
      case 'huge':
        this.#stream(response);
        return;
      case 'oauth-error':
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'invalid_grant', error_description: BODY_SECRET }));
        return;
      case 'not-json':
        response.writeHead(200, { 'content-type': 'application/json' }).end(`${BODY_SECRET} is not JSON`);
        return;
    }
  }

  /** A JSON answer that never ends, written as fast as the client reads it, until it hangs up. */
  #stream(response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'application/json' }).write('{"keys": [');
    const pump = () => {
      while (!response.destroyed) {
        this.hugeBytesSent += CHUNK.length;
        if (!response.write(CHUNK)) {
          response.once('drain', pump);
          return;
        }
      }
    };
    pump();
  }

  /** The upstream mock's answer, as its msw handlers give it. */
  async #forward(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      for (const each of [value ?? []].flat()) headers.append(name, each);
    }
    const method = request.method ?? 'GET';
    const fetchRequest = new Request(new URL(request.url ?? '/', this.origin), {
      method,
      headers,
      ...(method === 'GET' || method === 'HEAD' ? {} : { body: Buffer.concat(chunks) }),
    });
    const answer = this.upstream ? await getResponse(this.upstream.handlers(), fetchRequest) : undefined;
    if (!answer) {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
      return;
    }
    response.writeHead(answer.status, Object.fromEntries(answer.headers));
    response.end(Buffer.from(await answer.arrayBuffer()));
  }
}
