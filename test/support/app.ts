import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { createApp } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/parse.js';
import type { Config } from '../../src/config/types.js';
import { configureProviders } from '../../src/flow/providers.js';
import { createLogger } from '../../src/logger.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';
import { ephemeralKeySet, type KeySet } from '../../src/tokens/keys.js';

export const TEST_COOKIE_SECRET = 'test-cookie-secret-0123456789-abcdefghij';

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
  store: Store;
  keys?: KeySet;
  clock?: Clock;
}

export interface TestApp {
  app: ReturnType<typeof createApp>;
  config: Config;
  keys: KeySet;
  logs: LogCapture;
  store: Store;
}

/** A real app, built from environment variables the way `src/main.ts` builds it. */
export async function buildTestApp(options: TestAppOptions): Promise<TestApp> {
  const config = parseConfig({ PUBLIC_URL: 'https://gateway.test', COOKIE_SECRET: TEST_COOKIE_SECRET, ...options.env });
  const keys = options.keys ?? (await ephemeralKeySet(config.jwtAlg));
  const logs = new LogCapture();
  const app = createApp({
    config,
    store: options.store,
    keys,
    providers: configureProviders(config.providers),
    logger: createLogger('debug', logs),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return { app, config, keys, logs, store: options.store };
}

/**
 * A Redis store with a prefix of its own, so tests sharing one server never see each other's keys.
 * Pass another store's prefix to get a second client on the same keys (a second instance).
 */
export async function isolatedRedisStore(
  url: string,
  prefix = `test-${randomBytes(6).toString('hex')}:`,
): Promise<{ store: RedisStore; raw: Redis; prefix: string }> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: 1000, enableOfflineQueue: false });
  client.on('error', () => {});
  await once(client, 'ready');
  return { store: new RedisStore(client, prefix), raw: new Redis(url), prefix };
}

export const memoryStore = (clock: Clock = { now: () => Date.now() }) => new MemoryStore(clock);
