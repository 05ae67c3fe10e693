import { afterAll, beforeAll, beforeEach } from 'vitest';

/**
 * What a describe block starts once for all its tests (a stack of processes, a browser): started
 * before them; should it fail to start (nginx or redis-server missing, say), every test fails with
 * the reason rather than being skipped; stopped after them.
 */
export function startedOnce<T>(start: () => Promise<T>, stop: (started: T) => Promise<unknown>, timeoutMs = 60_000): { readonly value: T } {
  let started: T | undefined;
  let failure: unknown;
  beforeAll(async () => {
    try {
      started = await start();
    } catch (err) {
      failure = err;
    }
  }, timeoutMs);
  beforeEach(() => {
    if (failure) throw failure;
  });
  afterAll(async () => {
    if (started !== undefined) await stop(started);
  });
  return {
    get value(): T {
      if (started === undefined) throw failure ?? new Error('not started yet: use it inside a test');
      return started;
    },
  };
}
