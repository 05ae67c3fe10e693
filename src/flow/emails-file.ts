import { stat, readFile } from 'node:fs/promises';
import { parseEmailsList } from '../shared/emails-list.js';

interface Loaded {
  readonly stamp: string;
  readonly emails: readonly string[];
}

/**
 * `PROVIDER_<ID>_ALLOWED_EMAILS_FILE`s as they are now: each login asks for the file's addresses,
 * and a file whose modification time, size or inode changed since it was last read is read again,
 * so an operator edits (or atomically replaces) it without a restart. Start-up read it once and
 * refused it if it was unreadable or held a line that is no address; a later read that fails (the
 * file half-written, gone for a moment) keeps the addresses last read, and lines that are no
 * address are skipped: an edit can take people out, never let everyone in.
 */
export class EmailsFiles {
  readonly #loaded = new Map<string, Loaded>();
  /** The error last reported per file, so a file that stays unreadable is reported once, not at every login. */
  readonly #reported = new Map<string, string>();
  readonly #onReadError: (path: string, code: string) => void;

  /** `onReadError`: told (once until the file reads again or fails otherwise) when a later read fails and the last addresses stay. */
  constructor(onReadError: (path: string, code: string) => void = () => {}) {
    this.#onReadError = onReadError;
  }

  async emails(path: string): Promise<readonly string[]> {
    const last = this.#loaded.get(path);
    try {
      const info = await stat(path);
      const stamp = `${info.mtimeMs}:${info.size}:${info.ino}`;
      if (last?.stamp === stamp) return last.emails;
      const { emails } = parseEmailsList(await readFile(path, 'utf8'));
      this.#loaded.set(path, { stamp, emails: Object.freeze(emails) });
      this.#reported.delete(path);
      return emails;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      if (this.#reported.get(path) !== code) {
        this.#reported.set(path, code);
        this.#onReadError(path, code);
      }
      return last?.emails ?? [];
    }
  }
}
