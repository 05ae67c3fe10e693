/** What oidc-provider writes with `console.info` and `console.warn`, coloured on a terminal (`lib/helpers/attention.js`). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal colour codes oidc-provider puts around its line
const NOTICE = /^(?:\x1b\[[\d;]*m)?oidc-provider (NOTICE|WARNING): ([\s\S]*?)(?:\x1b\[0m)?$/;

export type NoticeLevel = 'info' | 'warn';

/**
 * Takes oidc-provider's notices off the console while the development IdP runs, and hands each to
 * `onNotice` (main logs it as a JSON line), so none interleaves with the log as plain text. What
 * anything else writes to the console goes through unchanged. Returns the function that puts the
 * console back.
 */
export function captureProviderNotices(onNotice: (level: NoticeLevel, message: string) => void): () => void {
  const original = { info: console.info, warn: console.warn };
  const wrap =
    (write: (...args: unknown[]) => void) =>
    (...args: unknown[]): void => {
      const match = args.length === 1 && typeof args[0] === 'string' ? NOTICE.exec(args[0]) : null;
      if (match) onNotice(match[1] === 'WARNING' ? 'warn' : 'info', match[2] ?? '');
      else write.apply(console, args);
    };
  console.info = wrap(original.info);
  console.warn = wrap(original.warn);
  return () => {
    console.info = original.info;
    console.warn = original.warn;
  };
}
