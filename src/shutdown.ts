import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from './logger.js';

export interface ShutdownOptions {
  /** SHUTDOWN_TIMEOUT: seconds the requests in flight have to finish. */
  readonly timeout: number;
  readonly logger: Logger;
  /** How the process ends; `process.exit` but in tests. */
  readonly exit?: (code: number) => void;
}

/** What is closed once no request is left, in the order given (`main`: the key watch, the metrics server, the store, the development IdP). */
export type Closer = () => Promise<void> | void;

/**
 * The end of the process on SIGTERM or SIGINT, as a load balancer and an orchestrator expect it:
 * `draining` turns true (`/readyz` answers 503), the server stops accepting connections, idle
 * keep-alive connections are closed and busy ones are closed as their response ends, the requests
 * in flight finish (a connection that has sent no whole request is then closed), then the store and the rest are closed and the process exits 0. If they have
 * not finished within SHUTDOWN_TIMEOUT, it logs `shutdown_forced` with the number cut short,
 * closes every connection and exits 1: a forced exit never looks like a clean one.
 */
export class Shutdown {
  readonly #options: ShutdownOptions;
  readonly #inFlight = new Set<ServerResponse>();
  #server: Server | undefined;
  #closers: readonly Closer[] = [];
  #draining = false;
  #ending = false;
  #forcedTimer: NodeJS.Timeout | undefined;
  #exited = false;

  constructor(options: ShutdownOptions) {
    this.#options = options;
  }

  /** True from the first SIGTERM or SIGINT on. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Counts `server`'s requests in flight from now on; `closers` run, in order, once they are done. */
  track(server: Server, closers: readonly Closer[]): this {
    this.#server = server;
    this.#closers = closers;
    server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
      this.#inFlight.add(response);
      // A request that arrives on a kept-alive connection while draining is served, and its connection closed after.
      if (this.#draining) response.shouldKeepAlive = false;
      response.once('close', () => {
        this.#inFlight.delete(response);
        if (this.#draining) setImmediate(() => this.#drained());
      });
    });
    return this;
  }

  /** SIGTERM and SIGINT start the shutdown; a second signal changes nothing (npm passes on the terminal's Ctrl-C too). */
  onSignals(): this {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => this.stop(signal));
    return this;
  }

  stop(signal: string): void {
    if (this.#draining) return;
    this.#draining = true;
    const { logger, timeout } = this.#options;
    this.#forcedTimer = setTimeout(() => this.#forced(), timeout * 1000);
    for (const response of this.#inFlight) response.shouldKeepAlive = false;
    // Closed before the line is written: whoever reads it finds the port refusing connections.
    this.#server?.close();
    this.#server?.closeIdleConnections();
    logger.info(
      { event: 'shutdown_started', signal, in_flight: this.#inFlight.size, timeout_s: timeout },
      'shutting down: no new connections; finishing the requests in flight',
    );
    this.#drained();
  }

  /**
   * Once no request is in flight, the connections left are closed and the rest shut down. Not
   * the server's `close` callback, which waits for every connection: one that never finishes
   * sending its headers (a slowloris client) has no request to finish, and would force every
   * shutdown to SHUTDOWN_TIMEOUT and exit 1.
   */
  #drained(): void {
    if (this.#inFlight.size > 0 || this.#ending) return;
    this.#ending = true;
    this.#server?.closeAllConnections();
    void this.#end();
  }

  #forced(): void {
    const cut = this.#inFlight.size;
    this.#options.logger.error(
      { event: 'shutdown_forced', requests_cut_short: cut, timeout_s: this.#options.timeout },
      `shutdown forced after SHUTDOWN_TIMEOUT (${this.#options.timeout} s): ${cut} request(s) in flight cut short`,
    );
    this.#server?.closeAllConnections();
    // The store and the rest are not waited for (they may be what hangs): exiting closes their sockets.
    this.#exit(1);
  }

  #exit(code: number): void {
    if (this.#exited) return;
    this.#exited = true;
    (this.#options.exit ?? process.exit)(code);
  }

  async #end(): Promise<void> {
    for (const close of this.#closers) {
      try {
        await close();
      } catch (err) {
        this.#options.logger.warn({ event: 'shutdown_close_failed', reason: (err as Error).message }, 'closing on shutdown failed');
      }
    }
    // Cleared only now: a store that does not close in time is forced too.
    clearTimeout(this.#forcedTimer);
    if (this.#exited) return;
    this.#options.logger.info({ event: 'shutdown_complete' }, 'shut down: every request finished');
    this.#exit(0);
  }
}
