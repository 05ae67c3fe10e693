import { vi } from 'vitest';

/**
 * Moves this process's clock `seconds` forward, for code that ages by `Date` (jose's key cache,
 * token expiry): fakes `Date` only, so timers and I/O run on. Undo with `vi.useRealTimers()`.
 */
export function later(seconds: number): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + seconds * 1000);
}
