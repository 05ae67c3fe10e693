import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { createApp } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/parse.js';
import type { Config } from '../../src/config/types.js';
import { configureProviders, providerOptions } from '../../src/flow/provider-client.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { ProviderRegistry } from '../../src/providers/index.js';
import { presets } from '../../src/providers/index.js';
import type { KeyValueStore } from '../../src/store/types.js';
import { KeyRing } from '../../src/tokens/key-ring.js';
import { ephemeralKeySet, type KeySet } from '../../src/tokens/keys.js';

export const TEST_COOKIE_SECRET = 'test-cookie-secret-0123456789-abcdefghij';

/** What production needs beside its providers, as an operator's environment holds it. */
export const PRODUCTION_ENV: Readonly<Record<string, string>> = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://auth.example.com',
  REDIS_URL: 'redis://redis:6379',
  COOKIE_SECRET: TEST_COOKIE_SECRET,
  JWT_KEYS: '/run/secrets/jwt-keys.json',
};

/** Log lines captured as parsed JSON objects. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _encoding: string, callback: () => void) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      this.raw.push(line);
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    callback();
  }
}

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  #now = Date.now();
  now() {
    return this.#now;
  }
  advance(seconds: number) {
    this.#now += seconds * 1000;
  }
}

export interface TestAppOptions {
  /** Environment variables, as an operator would set them. PUBLIC_URL defaults to https://gateway.test. */
  env?: Record<string, string>;
  store: KeyValueStore;
  /** A `KeyRing` lets the test reload the keys, as SIGHUP does, while the app serves. */
  keys?: KeySet | KeyRing;
  clock?: Clock;
  /** Provider types beside the presets, for tests of a preset's hooks. */
  registry?: ProviderRegistry;
  /** Where the app counts; a registry of its own (without the process metrics) by default. */
  metrics?: Metrics;
  /** Whether the process drains (after SIGTERM, in main.ts). */
  draining?: () => boolean;
}

export interface TestApp {
  app: ReturnType<typeof createApp>;
  config: Config;
  keys: KeySet;
  logs: LogCapture;
  store: KeyValueStore;
  /** What the app counted: `metrics.scrape()` reads it whether or not `/metrics` is on the app (METRICS_PORT). */
  metrics: Metrics;
}

/** A real app, built from environment variables the way `src/main.ts` builds it. */
export async function buildTestApp(options: TestAppOptions): Promise<TestApp> {
  const registry = { ...presets, ...options.registry };
  const config = parseConfig({ PUBLIC_URL: 'https://gateway.test', COOKIE_SECRET: TEST_COOKIE_SECRET, ...options.env }, registry);
  const given = options.keys ?? (await ephemeralKeySet(config.tokens.alg));
  const keys = given instanceof KeyRing ? given.current : given;
  const logs = new LogCapture();
  const metrics = options.metrics ?? new Metrics();
  const app = createApp({
    metrics,
    config,
    store: options.store,
    keys: given,
    providers: configureProviders(config.providers, {
      ...providerOptions(config),
      registry,
      ...(options.clock ? { clock: options.clock } : {}),
    }),
    // LOG_LEVEL as an operator sets it, else debug: tests see every line the gateway writes by default.
    logger: createLogger(options.env?.LOG_LEVEL === undefined ? 'debug' : config.log.level, logs),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.draining ? { draining: options.draining } : {}),
  });
  return { app, config, keys, logs, store: options.store, metrics };
}

/** A Redis store of a test's own, its raw client to look into Redis, and one call that closes both connections. */
export interface IsolatedRedisStore {
  readonly store: RedisStore;
  /** A second client on the same server, without the prefix: what an operator sees with redis-cli. */
  readonly raw: Redis;
  readonly prefix: string;
  close(): Promise<void>;
}

/**
 * A Redis store with a prefix of its own, so tests sharing one server never see each other's keys.
 * Pass another store's prefix to get a second client on the same keys (a second instance).
 */
export async function isolatedRedisStore(
  url: string,
  prefix = `test-${randomBytes(6).toString('hex')}:`,
  clock?: Clock,
): Promise<IsolatedRedisStore> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: 1000, enableOfflineQueue: false });
  client.on('error', () => {});
  await once(client, 'ready');
  const store = new RedisStore(client, { prefix, ...(clock ? { clock } : {}) });
  const raw = new Redis(url);
  // Fault tests kill the server under it: its reconnect errors are expected.
  raw.on('error', () => {});
  return {
    store,
    raw,
    prefix,
    async close() {
      await store.close();
      client.disconnect();
      raw.disconnect();
    },
  };
}

/**
 * The Node bindings of a request that came over a socket from `address`: the third argument of
 * `app.request` / `app.fetch`, so a test can say who the client (or the proxy) is.
 */
export const fromPeer = (address: string) => ({ incoming: { socket: { remoteAddress: address } } });

export const memoryStore = (clock: Clock = { now: () => Date.now() }) => new MemoryStore(clock);

/** Two instances as operators run them, and a raw client to look into their Redis; `close` ends both connections. */
export interface TwoInstances {
  readonly a: TestApp;
  readonly b: TestApp;
  /** What an operator sees with redis-cli, without the prefix. */
  readonly raw: Redis;
  readonly prefix: string;
  close(): Promise<void>;
}

/** Two instances on one Redis, with one COOKIE_SECRET and one JWT_KEYS key set, built from `env`. */
export async function twoInstancesOnRedis(redisUrl: string, env: Record<string, string>, clock?: ManualClock): Promise<TwoInstances> {
  const keys = await ephemeralKeySet('ES256');
  const first = await isolatedRedisStore(redisUrl, undefined, clock);
  const second = await isolatedRedisStore(redisUrl, first.prefix, clock);
  const options = { keys, env, ...(clock ? { clock } : {}) };
  return {
    a: await buildTestApp({ store: first.store, ...options }),
    b: await buildTestApp({ store: second.store, ...options }),
    raw: first.raw,
    prefix: first.prefix,
    async close() {
      await first.close();
      await second.close();
    },
  };
}
