import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Seconds a callback may take: an exchange and a userinfo call, up to PROVIDER_TIMEOUT's 120 s. */
const CALLBACK_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60, 120];
/** Seconds a store command may take: under a millisecond on a LAN, a second at the client's command timeout. */
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** What `/auth` answered, as `portero_auth_requests_total` counts it. */
export type AuthResult = 'ok' | 'unauthenticated' | 'forbidden' | 'error';
const AUTH_RESULTS: readonly AuthResult[] = ['ok', 'unauthenticated', 'forbidden', 'error'];

/** The series of one store operation, bound once: a command then costs one observe, a failure one inc. */
export interface StoreOperationMetrics {
  observe(seconds: number): void;
  failed(): void;
}

export interface MetricsOptions {
  /**
   * Also collect prom-client's default process metrics (`process_cpu_seconds_total`,
   * `nodejs_eventloop_lag_seconds`, heap, GC, file descriptors), under their usual names. Each
   * registry that does starts an event-loop monitor and a GC observer for the life of the
   * process: one process, one such registry (`src/main.ts`), never one per app a test builds.
   */
  readonly processMetrics?: boolean;
}

/** One series of a counter: its label values bound. */
type Series = { inc(value?: number): void };

/** A counter and its series, each bound on first use and kept: counting again is one `inc()`. */
class CounterFamily {
  readonly #counter: Counter<string>;
  readonly #bound = new Map<string, Series>();

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
    this.#counter = new Counter({ name: `portero_${name}`, help, labelNames, registers: [registry] });
  }

  series(...values: string[]): Series {
    const key = values.join('\u0000');
    let bound = this.#bound.get(key);
    if (!bound) {
      bound = this.#counter.labels(...values);
      this.#bound.set(key, bound);
    }
    return bound;
  }
}

/**
 * portero's Prometheus metrics, in a registry of their own: no prom-client global, so two apps in
 * one process count apart. Labels are ids of portero's own making (a configured provider, an error
 * code, a limit, a store operation), never a user's, a path, an address or a token. Each series
 * is bound once and kept, so counting is one `inc()`; nothing here knows HTTP or Redis.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #loginsStarted = this.#family('logins_started_total', 'Logins started: redirects to a provider', ['provider']);
  readonly #loginsCompleted = this.#family('logins_completed_total', 'Logins completed: the token cookie set', ['provider']);
  readonly #loginsFailed = this.#family('logins_failed_total', 'Callbacks that signed no one in, by error code', ['provider', 'reason']);
  readonly #tokensIssued = this.#family('tokens_issued_total', 'Tokens issued at sign-in', ['provider']);
  readonly #tokensRenewed = this.#family('tokens_renewed_total', 'Tokens renewed, by refresh or at /auth', ['provider', 'via']);
  readonly #authRequests = this.#family('auth_requests_total', 'Forward-auth (/auth) answers, by result', ['result']);
  readonly #sessionsEnded = this.#family('sessions_ended_total', 'Sessions ended, by kind', ['kind']);
  readonly #rateLimited = this.#family('rate_limited_total', 'Requests an abuse limit refused (429)', ['limit']);
  readonly #appTokens = this.#family('app_tokens_issued_total', 'Token responses the OpenID Provider gave apps, by grant type', [
    'client_id',
    'grant_type',
  ]);
  readonly #appLogouts = this.#family('app_backchannel_logouts_total', 'Back-channel logout tokens sent to apps, by outcome', [
    'client_id',
    'outcome',
  ]);
  readonly #storeErrors = this.#family('store_errors_total', 'Store operations that failed', ['operation']);
  readonly #callbackDuration = new Histogram({
    name: 'portero_callback_duration_seconds',
    help: 'Time to answer a callback, exchange and profile included',
    labelNames: ['provider'],
    buckets: CALLBACK_BUCKETS,
    registers: [this.registry],
  });
  readonly #storeDuration = new Histogram({
    name: 'portero_store_command_duration_seconds',
    help: 'Time to the answer of a store operation, failed ones included',
    labelNames: ['operation'],
    buckets: STORE_BUCKETS,
    registers: [this.registry],
  });
  readonly #auth: Readonly<Record<AuthResult, Series>>;

  constructor(options: MetricsOptions = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
    this.#auth = Object.fromEntries(AUTH_RESULTS.map((result) => [result, this.#authRequests.series(result)])) as Record<
      AuthResult,
      Series
    >;
    // Every result shown from the start, at 0, so a rate over it needs no first request.
    for (const result of AUTH_RESULTS) this.#auth[result].inc(0);
  }

  #family(name: string, help: string, labelNames: readonly string[]): CounterFamily {
    return new CounterFamily(this.registry, name, help, labelNames);
  }

  /** Shows a provider's login and token counts at 0 before its first login. */
  provider(id: string): void {
    for (const counter of [this.#loginsStarted, this.#loginsCompleted, this.#tokensIssued]) counter.series(id).inc(0);
  }

  /** Shows an app's token and logout counts at 0 before its first sign-in. */
  app(clientId: string): void {
    this.#appTokens.series(clientId, 'authorization_code').inc(0);
    for (const outcome of ['sent', 'failed']) this.#appLogouts.series(clientId, outcome).inc(0);
  }

  appTokenIssued(clientId: string, grantType: string): void {
    this.#appTokens.series(clientId, grantType).inc();
  }

  appLogout(clientId: string, outcome: 'sent' | 'failed'): void {
    this.#appLogouts.series(clientId, outcome).inc();
  }

  loginStarted(provider: string): void {
    this.#loginsStarted.series(provider).inc();
  }

  /** A login completed, and the token it issued. */
  loginCompleted(provider: string): void {
    this.#loginsCompleted.series(provider).inc();
    this.#tokensIssued.series(provider).inc();
  }

  loginFailed(provider: string, reason: string): void {
    this.#loginsFailed.series(provider, reason).inc();
  }

  callbackDuration(provider: string, seconds: number): void {
    this.#callbackDuration.observe({ provider }, seconds);
  }

  tokenRenewed(provider: string, via: string): void {
    this.#tokensRenewed.series(provider, via).inc();
  }

  /** One `/auth` answer: the hot path, so one `inc()` of a series bound at construction. */
  authResult(result: AuthResult): void {
    this.#auth[result].inc();
  }

  sessionEnded(kind: string): void {
    this.#sessionsEnded.series(kind).inc();
  }

  rateLimited(limit: string): void {
    this.#rateLimited.series(limit).inc();
  }

  /** The duration and error series of one store operation, bound for its decorator to keep. */
  storeOperation(operation: string): StoreOperationMetrics {
    const duration = this.#storeDuration.labels(operation);
    const errors = this.#storeErrors.series(operation);
    errors.inc(0);
    return { observe: (seconds) => duration.observe(seconds), failed: () => errors.inc() };
  }

  /** The Prometheus text format, and its content type. */
  async scrape(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
