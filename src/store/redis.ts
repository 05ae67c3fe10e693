import type { Cluster, Redis } from 'ioredis';
import { PorteroError } from '../errors.js';
import type { Store } from './types.js';

export const DEFAULT_PREFIX = 'portero:';

// INCR, and set the TTL only when this increment created the key (one round trip, atomic).
const INCR_WITH_TTL = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count`;

/**
 * The shared store. It is given its client (standalone or Cluster) and never creates one, so the
 * caller decides connection options; see `createRedisClient`. Keys are prefixed (`portero:` by default).
 */
export class RedisStore implements Store {
  readonly #client: Redis | Cluster;
  readonly #prefix: string;

  constructor(client: Redis | Cluster, prefix = DEFAULT_PREFIX) {
    this.#client = client;
    this.#prefix = prefix;
  }

  async #run<T>(operation: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (cause) {
      throw new PorteroError('store_unavailable', `Redis ${operation} failed`, { cause });
    }
  }

  get(key: string) {
    return this.#run('GET', async () => (await this.#client.get(this.#prefix + key)) ?? undefined);
  }

  set(key: string, value: string, ttlSeconds: number) {
    return this.#run('SET', async () => {
      await this.#client.set(this.#prefix + key, value, 'EX', ttlSeconds);
    });
  }

  getAndDelete(key: string) {
    return this.#run('GETDEL', async () => (await this.#client.getdel(this.#prefix + key)) ?? undefined);
  }

  incr(key: string, ttlSeconds: number) {
    return this.#run('INCR', async () => Number(await this.#client.eval(INCR_WITH_TTL, 1, this.#prefix + key, ttlSeconds)));
  }

  ping() {
    return this.#run('PING', async () => {
      await this.#client.ping();
    });
  }

  async close() {
    await this.#client.quit().catch(() => this.#client.disconnect());
  }
}
