import { normalizeEmail } from './email.js';

/**
 * An allow-list file's addresses: one per line, blank lines and `#` comments skipped, each
 * normalised as access rules compare them; `invalid` holds the numbers (from 1) of lines that are
 * no address.
 */
export function parseEmailsList(text: string): { readonly emails: string[]; readonly invalid: number[] } {
  const emails: string[] = [];
  const invalid: number[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const entry = line.replace(/#.*/, '').trim();
    if (entry === '') return;
    const email = normalizeEmail(entry);
    if (email) emails.push(email.address);
    else invalid.push(index + 1);
  });
  return { emails, invalid };
}
