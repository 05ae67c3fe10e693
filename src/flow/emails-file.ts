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

  async emails(path: string): Promise<readonly string[]> {
    const last = this.#loaded.get(path);
    try {
      const info = await stat(path);
      const stamp = `${info.mtimeMs}:${info.size}:${info.ino}`;
      if (last?.stamp === stamp) return last.emails;
      const { emails } = parseEmailsList(await readFile(path, 'utf8'));
      this.#loaded.set(path, { stamp, emails: Object.freeze(emails) });
      return emails;
    } catch {
      return last?.emails ?? [];
    }
  }
}
