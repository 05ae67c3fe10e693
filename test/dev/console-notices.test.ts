import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NoticeLevel } from '../../src/dev/console-notices.js';
import { startDevIdp } from '../../src/dev/idp.js';

// oidc-provider writes its quick-start notices with console.warn and console.info. While the
// development IdP runs they go to the caller (main logs them as JSON lines); the rest of the
// console is left alone, and put back when the IdP closes.

const written: { level: string; args: unknown[] }[] = [];
const original = { info: console.info, warn: console.warn };
beforeEach(() => {
  written.length = 0;
  console.info = (...args: unknown[]) => written.push({ level: 'info', args });
  console.warn = (...args: unknown[]) => written.push({ level: 'warn', args });
});
afterEach(() => {
  console.info = original.info;
  console.warn = original.warn;
});

describe("the development IdP's console notices", () => {
  it('reach the caller, not the console; anything else written there passes; the console is put back on close', async () => {
    const notices: { level: NoticeLevel; message: string }[] = [];
    const recorder = console.warn;
    const idp = await startDevIdp({
      redirectUri: 'http://localhost:3000/callback/dev',
      onNotice: (level, message) => notices.push({ level, message }),
    });
    expect(notices).toContainEqual({ level: 'warn', message: expect.stringContaining('development-only in-memory adapter') });
    expect(notices.every(({ message }) => !message.includes('oidc-provider'))).toBe(true);
    console.warn('a line of something else', 42);
    console.warn('\x1b[31;1moidc-provider WARNING: coloured on a terminal\x1b[0m');
    expect(notices.at(-1)).toEqual({ level: 'warn', message: 'coloured on a terminal' });
    expect(written).toEqual([{ level: 'warn', args: ['a line of something else', 42] }]);
    await idp.close();
    expect(console.warn).toBe(recorder);
  });
});
