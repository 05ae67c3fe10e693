import { Cluster, type Redis, ReplyError } from 'ioredis';
import { PorteroError, STORE_UNAVAILABLE } from '../errors.js';
import type { Logger } from '../logger.js';

/** What `INFO memory` says about eviction: the memory limit in bytes (0: none) and the policy. */
export interface MemoryPolicy {
  readonly maxmemory: number;
  readonly policy: string;
}

/** `maxmemory` and `maxmemory_policy` from an `INFO memory` reply; undefined when either is missing. */
export function parseMemoryInfo(info: string): MemoryPolicy | undefined {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
  const maxmemory = Number(field('maxmemory'));
  const policy = field('maxmemory_policy');
  if (!policy || !Number.isSafeInteger(maxmemory) || maxmemory < 0) return undefined;
  return { maxmemory, policy };
}

/**
 * Whether Redis may evict portero's keys: a memory limit under any policy but `noeviction`. Every
 * key portero writes has a TTL, so the `volatile-*` policies reach them as surely as `allkeys-*`.
 */
export function mayEvict(memory: MemoryPolicy): boolean {
  return memory.maxmemory > 0 && memory.policy !== 'noeviction';
}

/** What the setting that accepts eviction is called, for the words of the log and the refusal. */
const ACCEPT = 'REDIS_ALLOW_EVICTION=true';
const FIX = `set maxmemory-policy noeviction on Redis (a managed Redis: in its parameter group), or ${ACCEPT} to accept it`;
/** How soon a check that Redis did not answer (a timeout, a dropped connection) is tried again. */
const RETRY_MS = 1000;

type Verdict =
  /** Not checked on this connection yet. */
  | { readonly kind: 'pending' }
  | { readonly kind: 'safe'; readonly memory: MemoryPolicy }
  | { readonly kind: 'evicting'; readonly memory: MemoryPolicy }
  /** INFO refused (a proxy or an ACL that forbids it) or without the two fields. */
  | { readonly kind: 'unknown'; readonly reason: string };

export interface EvictionGuardOptions {
  /** REDIS_ALLOW_EVICTION: serve, with a warning, even when Redis may evict (or cannot tell). */
  readonly allowEviction: boolean;
  readonly logger: Logger;
  /** How often the policy is read again on a live connection (a `CONFIG SET` needs no reconnect); 30 s by default. */
  readonly recheckMs?: number;
}

/**
 * Keeps a revocation from being lost silently. A Redis with `maxmemory` and an evicting policy
 * (ElastiCache's and Memorystore's default is `volatile-lru`) drops portero's keys when it fills,
 * and a dropped `revoked:` key lets a signed-out token pass `/auth` again. The guard reads
 * `maxmemory` and `maxmemory_policy` from `INFO memory` (managed Redis often disables `CONFIG`)
 * on every connection, and again every `recheckMs`; while Redis may evict, or the guard cannot
 * tell, {@link refusal} names why, and the store refuses every operation with it (so `/readyz`,
 * `/login` and `/auth` answer 503) unless eviction is accepted. One error line when it becomes
 * unsafe, one info line when it is safe again.
 */
export class EvictionGuard {
  readonly #client: Redis | Cluster;
  readonly #options: EvictionGuardOptions;
  readonly #timer: NodeJS.Timeout;
  #verdict: Verdict = { kind: 'pending' };
  /** The kind of the last verdict logged, so each change is logged once, whatever the reconnects in between. */
  #logged: Verdict['kind'] | undefined;
  #retry: NodeJS.Timeout | undefined;
  readonly #onReady = () => void this.check();
  readonly #onClose = () => {
    // A new connection may reach another server (a failover) or a changed one: check it again first.
    this.#verdict = { kind: 'pending' };
  };

  constructor(client: Redis | Cluster, options: EvictionGuardOptions) {
    this.#client = client;
    this.#options = options;
    client.on('ready', this.#onReady);
    client.on('close', this.#onClose);
    // A Cluster's new master (a replica promoted, a node added) is a server not yet asked.
    client.on('+node', this.#onReady);
    this.#timer = setInterval(() => {
      if (client.status === 'ready') void this.check();
    }, options.recheckMs ?? 30_000).unref();
  }

  /**
   * The error every store operation fails with now, or undefined while the store may serve: Redis
   * keeps every key, or eviction is accepted. A connection not checked yet is refused too.
   */
  refusal(): PorteroError | undefined {
    const verdict = this.#verdict;
    if (verdict.kind === 'safe' || this.#options.allowEviction) return undefined;
    // No connection: the command fails by itself, and its own error says why.
    if (verdict.kind === 'pending' && this.#client.status !== 'ready') return undefined;
    const reason =
      verdict.kind === 'pending'
        ? "Redis's maxmemory-policy is not checked yet on this connection"
        : verdict.kind === 'evicting'
          ? `Redis may evict portero's keys (maxmemory ${verdict.memory.maxmemory} bytes, maxmemory-policy ${verdict.memory.policy}): ${FIX}`
          : `cannot tell whether Redis may evict portero's keys (${verdict.reason}): allow INFO, or ${ACCEPT} once its maxmemory-policy is noeviction`;
    return new PorteroError(STORE_UNAVAILABLE, 'Redis may lose revocations', { detail: { reason } });
  }

  /**
   * `INFO memory` of the server, or of every master of a Cluster: each holds its own share of the
   * keys under its own settings (a replica promoted by a failover is asked when it joins).
   */
  #infos(): Promise<string[]> {
    const client = this.#client;
    if (!(client instanceof Cluster)) return client.info('memory').then((info) => [info]);
    return Promise.all(client.nodes('master').map((node) => node.info('memory')));
  }

  /** Reads the policy now. A reply that is not an answer (a timeout) keeps the verdict, and is retried soon while none is known. */
  async check(): Promise<void> {
    let infos: string[];
    try {
      infos = await this.#infos();
    } catch (err) {
      if (err instanceof ReplyError) return this.#settle({ kind: 'unknown', reason: `INFO memory refused: ${(err as Error).message}` });
      if (this.#verdict.kind === 'pending' && this.#client.status === 'ready') {
        clearTimeout(this.#retry);
        this.#retry = setTimeout(() => void this.check(), RETRY_MS).unref();
      }
      return;
    }
    const memories = infos.map(parseMemoryInfo);
    if (memories.length === 0 || memories.some((memory) => !memory)) {
      return this.#settle({ kind: 'unknown', reason: 'INFO memory has no maxmemory or maxmemory_policy' });
    }
    // The first node that may evict speaks for all: one is enough to lose a revocation.
    const evicting = memories.find((memory) => memory && mayEvict(memory));
    this.#settle(evicting ? { kind: 'evicting', memory: evicting } : { kind: 'safe', memory: memories[0] as MemoryPolicy });
  }

  #settle(verdict: Exclude<Verdict, { kind: 'pending' }>): void {
    this.#verdict = verdict;
    if (verdict.kind === this.#logged) return;
    const first = this.#logged === undefined;
    this.#logged = verdict.kind;
    const { logger, allowEviction } = this.#options;
    const fields =
      verdict.kind === 'unknown' ? { reason: verdict.reason } : { maxmemory: verdict.memory.maxmemory, policy: verdict.memory.policy };
    if (verdict.kind === 'safe') {
      if (first) logger.debug(fields, 'redis keeps every key: no maxmemory, or maxmemory-policy noeviction');
      else logger.info(fields, 'redis no longer evicts: serving again');
    } else if (allowEviction) {
      logger.warn(
        fields,
        `redis may evict portero's keys, so a signed-out token may pass /auth again: serving anyway, as ${ACCEPT} accepts`,
      );
    } else {
      logger.error({ ...fields, fix: FIX }, `refusing to serve: ${this.refusal()?.detail.reason}`);
    }
  }

  /** Stops listening and re-checking; the client is its owner's to close. */
  stop(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#retry);
    this.#client.off('ready', this.#onReady);
    this.#client.off('close', this.#onClose);
    this.#client.off('+node', this.#onReady);
  }
}
