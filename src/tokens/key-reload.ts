import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../logger.js';
import type { PorteroAlgorithm } from '../shared/algorithms.js';
import { type KeyRing, kidsOf } from './key-ring.js';
import { type KeySet, loadKeyFile } from './keys.js';

/** What asked for a reload: the operator's SIGHUP, or a change to the file seen by the watch. */
export type ReloadTrigger = 'SIGHUP' | 'file_changed';

export interface KeyFileReloaderOptions {
  /** JWT_KEYS. */
  readonly path: string;
  /** JWT_ALG: a file whose signing key is of another algorithm is refused, as at start. */
  readonly alg: PorteroAlgorithm;
  /** Apps are configured (APP_*): a file without an RS256 key is refused, as at start (`KeySetOptions`). */
  readonly forApps?: boolean;
  readonly ring: KeyRing;
  readonly logger: Logger;
  /** Quiet after the last change seen before the file is read (a write in several steps is read once); 200 ms by default. */
  readonly debounceMs?: number;
}

/** Whether two key sets are the same keys in the same order (the public parts say so: a key pair is one). */
const sameKeys = (a: KeySet, b: KeySet) => JSON.stringify(a.publicJwks) === JSON.stringify(b.publicJwks);

/**
 * Reads JWT_KEYS again while portero serves, on SIGHUP (`reload`) or when the file changes (`watch`),
 * and puts the new keys in use at once (the signing key, the verifier, the JWKS; see `KeyRing`). A
 * file that would be refused at start (not JSON, no keys, a public key, a signing key of another
 * algorithm than JWT_ALG, no RS256 key while apps are configured) is refused here: a warning names the file and the reason, never a key,
 * and the keys in use stay until a good file comes.
 *
 * The directory is watched, not the file: `npm run keys`, editors and Kubernetes' secret volumes
 * replace the file by a rename (Kubernetes swaps a `..data` link), which a watch of the file itself
 * would stop seeing after the first time.
 */
export class KeyFileReloader {
  readonly #options: KeyFileReloaderOptions;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Reloads run one after the other, so the last change seen is the last one read. */
  #queue: Promise<void> = Promise.resolve();
  /** Whether the last reload was refused: the good file after it is said at info, even with the same keys. */
  #refused = false;

  constructor(options: KeyFileReloaderOptions) {
    this.#options = options;
  }

  /** Starts watching the file's directory; it keeps no process alive. */
  watch(): this {
    const { path, logger } = this.#options;
    const name = basename(path);
    try {
      this.#watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
        if (filename === null || filename === name || filename.startsWith('..')) this.#changed();
      });
    } catch (err) {
      this.#refused = true;
      logger.warn({ event: 'keys_watch_failed', path, reason: (err as Error).message }, 'cannot watch JWT_KEYS: reload it with SIGHUP');
      return this;
    }
    this.#watcher.on('error', (err) => {
      logger.warn({ event: 'keys_watch_failed', path, reason: err.message }, 'stopped watching JWT_KEYS: reload it with SIGHUP');
      this.#watcher?.close();
    });
    return this;
  }

  /** Reads the file now (after any reload under way); resolves once its keys are in use, or refused. */
  reload(trigger: ReloadTrigger): Promise<void> {
    this.#queue = this.#queue.then(() => this.#reloadOnce(trigger));
    return this.#queue;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
  }

  #changed(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.reload('file_changed'), this.#options.debounceMs ?? 200);
    this.#timer.unref();
  }

  async #reloadOnce(trigger: ReloadTrigger): Promise<void> {
    const { path, alg, forApps, ring, logger } = this.#options;
    let next: KeySet;
    try {
      next = await loadKeyFile(path, alg, { forApps });
    } catch (err) {
      this.#refused = true;
      logger.warn(
        { event: 'keys_reload_refused', trigger, path, reason: (err as Error).message },
        'JWT_KEYS not reloaded: the file was refused; the keys in use stay',
      );
      return;
    }
    const previous = ring.current;
    const kids = kidsOf(next);
    const fields = { event: 'keys_reloaded', trigger, path, kids, signing_kid: next.signing.kid, rsa_kid: next.rsaKid };
    const answer = trigger === 'SIGHUP' || this.#refused;
    this.#refused = false;
    if (sameKeys(previous, next)) {
      // A touch, or a write of the same keys: nothing to replace (a SIGHUP, or a file mended, still gets its answer).
      logger[answer ? 'info' : 'debug']({ ...fields, changed: false }, 'JWT_KEYS reloaded: the same keys');
      return;
    }
    ring.replace(next);
    const before = kidsOf(previous);
    const added = kids.filter((kid) => !before.includes(kid));
    const removed = before.filter((kid) => !kids.includes(kid));
    logger.info({ ...fields, changed: true, added, removed }, 'JWT_KEYS reloaded: new keys in use');
  }
}
