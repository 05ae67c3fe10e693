import { Cluster, type Redis } from 'ioredis';
import { type Clock, systemClock } from '../clock.js';
import { PorteroError, STORE_UNAVAILABLE } from '../errors.js';
import type { RateLimitRule } from '../config/types.js';
import { storeKeys } from './keys.js';
import { redisRateLimiter } from './rate-limiter.js';
import type { KeyValueStore, RateLimiter } from './types.js';

export const DEFAULT_PREFIX = 'portero:';

/** How long a first subscription waits for its connection before the store counts as unreachable. */
const SUBSCRIBER_READY_MS = 1000;

/**
 * How often the subscriber connection is pinged: a connection that stopped answering (a paused or
 * partitioned server, no 'close' yet) counts as lost within about this plus the command timeout.
 */
const SUBSCRIBER_HEARTBEAT_MS = 1000;

/** How long a probe of the subscriber connection may take: the main client's command timeout. */
const SUBSCRIBER_PROBE_TIMEOUT_MS = 1000;

/** One subscription's callbacks. */
interface Listener {
  readonly message: (message: string) => void;
  readonly live: ((live: boolean) => void) | undefined;
}

// Scripts: one key each (KEYS[1]), so every one runs on a Redis Cluster too. Run by ioredis's
// defineCommand, which sends EVALSHA and the script itself only when the server does not know it.
const SCRIPTS = {
  porteroDeleteIfValue: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  porteroExpireIfValue: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0`,
  // A sorted set scored by each member's expiry (ms): drop the expired, add or renew the member,
  // and let the key live until its last member expires. ARGV: member, expiry, now.
  porteroAddMember: `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - tonumber(ARGV[3])))
return 1`,
} as const;

type ScriptName = keyof typeof SCRIPTS;
type ScriptClient = Record<ScriptName, (key: string, ...args: (string | number)[]) => Promise<unknown>>;

/** The cluster's master with the lowest address, or the cluster itself while it knows none. */
function firstMaster(cluster: Cluster): Redis | Cluster {
  const address = (node: Redis) => `${node.options.host}:${node.options.port}`;
  const [first] = cluster.nodes('master').sort((a, b) => address(a).localeCompare(address(b)));
  return first ?? cluster;
}

/**
 * The connection that holds a subscriber's subscriptions. A Cluster keeps them on one node's
 * connection of its own choosing (ioredis's ClusterSubscriber, not public API) and, when that
 * connection ends, moves them to another node by itself: the Cluster neither closes nor fails a
 * ping (sent to any node), yet what was published meanwhile reached no one. `null`: none now.
 * Followed by identity: another connection since it was counted live means the feed was lost.
 */
function subscribedConnection(subscriber: Redis | Cluster): Redis | null {
  if (!(subscriber instanceof Cluster)) return subscriber;
  const inner = (subscriber as unknown as { subscriber?: { getInstance?: () => Redis | null } }).subscriber;
  // Should a later ioredis hide it: none, so the feed is never counted live and /auth reads the store.
  return typeof inner?.getInstance === 'function' ? inner.getInstance() : null;
}

/** A probe of the subscriber connection that counts as failed after `ms`: a ClusterSubscriber's connection has no command timeout. */
function within<T>(probe: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([probe, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The shared store on Redis. It is given its client (standalone or Cluster; see
 * `createRedisClient`) and never closes it: whoever made the connection closes it. It makes one
 * connection of its own, on the first subscription (a subscribed Redis connection can do nothing
 * else), and closes that in `close()`. Keys and channels are prefixed (`portero:` by default; a
 * prefix may be a hash tag, `{portero}:`, to keep every key in one Cluster slot).
 *
 * Set members expire by the store's clock (scores in ms), so every instance sharing the set must
 * keep its clock right, as it must anyway for the tokens it signs.
 */
export class RedisStore implements KeyValueStore {
  readonly #client: Redis | Cluster;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #refusal: (() => PorteroError | undefined) | undefined;
  readonly #subscriptions = new Map<string, { readonly handlers: Set<Listener>; readonly ready: Promise<void> }>();
  #subscriber: Promise<Redis | Cluster> | undefined;
  /** Whether the subscriber connection is up and subscribed to every channel; see `subscribe`'s `onLive`. */
  #live = false;
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * `refusal`, when given, is asked before every operation: while it returns an error, every
   * operation (`ping` included) rejects with it and sends nothing to Redis (see `EvictionGuard`).
   */
  constructor(client: Redis | Cluster, options: { prefix?: string; clock?: Clock; refusal?: () => PorteroError | undefined } = {}) {
    this.#client = client;
    this.#prefix = options.prefix ?? DEFAULT_PREFIX;
    this.#clock = options.clock ?? systemClock;
    this.#refusal = options.refusal;
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      if (!(name in client)) client.defineCommand(name, { numberOfKeys: 1, lua });
    }
  }

  async #run<T>(operation: string, command: () => Promise<T>): Promise<T> {
    const refused = this.#refusal?.();
    if (refused) throw refused;
    try {
      return await command();
    } catch (cause) {
      throw new PorteroError(STORE_UNAVAILABLE, `Redis ${operation} failed`, { cause });
    }
  }

  get #scripts(): ScriptClient {
    return this.#client as unknown as ScriptClient;
  }

  get(key: string) {
    return this.#run('GET', async () => (await this.#client.get(this.#prefix + key)) ?? undefined);
  }

  set(key: string, value: string, ttlSeconds: number) {
    return this.#run('SET', async () => {
      await this.#client.set(this.#prefix + key, value, 'EX', ttlSeconds);
    });
  }

  setIfAbsent(key: string, value: string, ttlSeconds: number) {
    return this.#run('SET NX', async () => (await this.#client.set(this.#prefix + key, value, 'EX', ttlSeconds, 'NX')) === 'OK');
  }

  setIfPresent(key: string, value: string, ttlSeconds: number) {
    return this.#run('SET XX', async () => (await this.#client.set(this.#prefix + key, value, 'EX', ttlSeconds, 'XX')) === 'OK');
  }

  getAndDelete(key: string) {
    return this.#run('GETDEL', async () => (await this.#client.getdel(this.#prefix + key)) ?? undefined);
  }

  delete(key: string) {
    return this.#run('DEL', async () => (await this.#client.del(this.#prefix + key)) === 1);
  }

  deleteIfValue(key: string, value: string) {
    return this.#run('delete-if-value', async () => Number(await this.#scripts.porteroDeleteIfValue(this.#prefix + key, value)) === 1);
  }

  expireIfValue(key: string, value: string, ttlSeconds: number) {
    return this.#run(
      'expire-if-value',
      async () => Number(await this.#scripts.porteroExpireIfValue(this.#prefix + key, value, ttlSeconds)) === 1,
    );
  }

  addMember(key: string, member: string, ttlSeconds: number) {
    const now = this.#clock.now();
    return this.#run('add-member', async () => {
      await this.#scripts.porteroAddMember(this.#prefix + key, member, now + ttlSeconds * 1000, now);
    });
  }

  removeMember(key: string, member: string) {
    return this.#run('ZREM', async () => (await this.#client.zrem(this.#prefix + key, member)) === 1);
  }

  members(key: string) {
    // `(now`: a member whose expiry is now has expired.
    return this.#run('ZRANGEBYSCORE', () => this.#client.zrangebyscore(this.#prefix + key, `(${this.#clock.now()}`, '+inf'));
  }

  /**
   * On a Cluster, a command without a key goes to any node, and messages published through two
   * nodes may reach a subscriber in either order: every message is sent through one node, the
   * first master by address, so a channel keeps its order (until that node fails over).
   */
  publish(channel: string, message: string) {
    return this.#run('PUBLISH', async () => {
      const client = this.#client;
      const via = client instanceof Cluster ? firstMaster(client) : client;
      await via.publish(this.#prefix + channel, message);
    });
  }

  /**
   * The subscriber connection, made on the first subscription and awaited until ready: no longer
   * than a command may take, and not at all while the main connection is down.
   */
  #subscriberConnection(): Promise<Redis | Cluster> {
    this.#subscriber ??= new Promise<Redis | Cluster>((resolve, reject) => {
      if (this.#client.status !== 'ready') throw new Error(`Redis connection is ${this.#client.status}`);
      // Each client type its own duplicate(): same server or cluster, same options.
      const subscriber = this.#client instanceof Cluster ? this.#client.duplicate() : this.#client.duplicate();
      const fail = (cause: unknown) => {
        clearTimeout(timer);
        subscriber.disconnect();
        reject(cause);
      };
      const timer = setTimeout(
        () => fail(new Error(`subscriber connection not ready within ${SUBSCRIBER_READY_MS} ms`)),
        SUBSCRIBER_READY_MS,
      );
      subscriber.once('error', fail);
      subscriber.once('ready', () => {
        clearTimeout(timer);
        subscriber.off('error', fail);
        // From now on outages are logged once by the main client's listeners, and ioredis
        // resubscribes by itself when it reconnects.
        subscriber.on('error', () => {});
        this.#watch(subscriber);
        resolve(subscriber);
      });
      subscriber.on('message', (channel: string, message: string) => {
        for (const handler of this.#subscriptions.get(channel)?.handlers ?? []) handler.message(message);
      });
    }).catch((cause: unknown) => {
      this.#subscriber = undefined;
      throw cause;
    });
    return this.#subscriber;
  }

  /** Tells every subscription's `onLive` of a change, once. */
  #setLive(live: boolean): void {
    if (this.#live === live) return;
    this.#live = live;
    for (const { handlers } of this.#subscriptions.values()) for (const handler of handlers) handler.live?.(live);
  }

  /**
   * Follows the subscriber connection: lost on 'close', on an unanswered ping, or while the store
   * refuses to serve (an evicting Redis: what a subscriber would reload may have been evicted);
   * live again once the connection is up, the store serves, and its channels are subscribed again.
   * ioredis sends its own SUBSCRIBE on reconnecting, before 'ready'; the one sent here comes after
   * it on the same connection, so its answer means both are done.
   */
  #watch(subscriber: Redis | Cluster): void {
    this.#live = true;
    let checking = false;
    // On a Cluster, the node connection the subscriptions are on when it was counted live: another
    // one since means the subscriptions moved, and what was published meanwhile may be missed.
    let followed = subscribedConnection(subscriber);
    const check = () => {
      if (checking || this.#closed) return;
      const connection = subscribedConnection(subscriber);
      if (connection !== followed) {
        followed = connection;
        this.#setLive(false);
      }
      if (this.#refusal?.() || subscriber.status !== 'ready' || !connection) {
        this.#setLive(false);
        return;
      }
      const channels = [...this.#subscriptions.keys()];
      checking = true;
      // The ping through the very connection that is subscribed (on a Cluster, not any node).
      const probe = within(
        this.#live || channels.length === 0 ? connection.ping() : subscriber.subscribe(...channels),
        SUBSCRIBER_PROBE_TIMEOUT_MS,
      );
      probe
        .then(
          () => this.#setLive(true),
          () => {
            this.#setLive(false);
            subscriber.disconnect(true);
          },
        )
        .finally(() => {
          checking = false;
        });
    };
    subscriber.on('close', () => this.#setLive(false));
    subscriber.on('ready', check);
    this.#heartbeat = setInterval(check, SUBSCRIBER_HEARTBEAT_MS).unref();
  }

  /**
   * The first subscription to a channel subscribes the connection to it, for good: unsubscribing
   * only stops the handler. portero listens on a handful of channels for its whole life, and never
   * unsubscribing at the server means no subscription can be lost between an UNSUBSCRIBE and a
   * new SUBSCRIBE.
   */
  subscribe(channel: string, onMessage: (message: string) => void, onLive?: (live: boolean) => void) {
    const name = this.#prefix + channel;
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    return this.#run('SUBSCRIBE', async () => {
      const subscriber = await this.#subscriberConnection();
      // Its own function per subscription, so that subscribing one handler twice gives two subscriptions.
      const handler: Listener = { message: (message) => onMessage(message), live: onLive };
      let subscription = this.#subscriptions.get(name);
      if (!subscription) {
        // Registered before SUBSCRIBE is sent, so a second subscriber meanwhile waits for the same one.
        subscription = { handlers: new Set(), ready: subscriber.subscribe(name).then(() => undefined) };
        this.#subscriptions.set(name, subscription);
      }
      const { handlers, ready } = subscription;
      try {
        await ready;
      } catch (cause) {
        if (this.#subscriptions.get(name) === subscription) this.#subscriptions.delete(name);
        throw cause;
      }
      handlers.add(handler);
      return async () => {
        handlers.delete(handler);
      };
    });
  }

  rateLimiter(name: string, rule: RateLimitRule): RateLimiter {
    const limiter = redisRateLimiter(this.#client, this.#prefix + storeKeys.rateLimit(name), name, rule);
    // The library talks to the client itself: the store's refusal (an evicting Redis) is asked first here.
    return {
      consume: (key) => {
        const refused = this.#refusal?.();
        return refused ? Promise.reject(refused) : limiter.consume(key);
      },
    };
  }

  /**
   * On a Cluster, not one node's PONG (any node answers while a third of the slots has no master):
   * every master this client routes to answers, and the cluster says it serves every slot.
   */
  ping() {
    const client = this.#client;
    if (!(client instanceof Cluster)) return this.#run('PING', async () => void (await client.ping()));
    return this.#run('CLUSTER INFO', async () => {
      const masters = client.nodes('master');
      if (masters.length === 0) throw new Error('no cluster master connected');
      await Promise.all(masters.map((node) => node.ping()));
      const state = /^cluster_state:(\w+)/m.exec(String(await client.cluster('INFO')))?.[1];
      if (state !== 'ok') throw new Error(`cluster_state is ${state ?? 'unknown'}`);
    });
  }

  async close() {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    // Told as a loss, so that no subscriber counts on messages any more.
    this.#setLive(false);
    const subscriber = await this.#subscriber?.catch(() => undefined);
    this.#subscriber = undefined;
    this.#subscriptions.clear();
    await subscriber?.quit().catch(() => subscriber.disconnect());
  }
}
