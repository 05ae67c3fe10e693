import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { createLogger } from '../../src/logger.js';
import { connectStore, type StoreConnection } from '../../src/store/connect.js';
import { ephemeralKeySet } from '../../src/tokens/keys.js';
import { buildTestApp, LogCapture, type TestApp } from './app.js';
import { type LoginOutcome, startLoginStream } from './login-stream.js';
import { MockOidcProvider } from './mock-oidc.js';
import { pollUntil, sleep } from './wait.js';

// What the failover tests (test/failover) share. Two portero instances (in-process apps, each
// with its own connection, as two processes) under a steady stream of logins, each login started
// on one and finished on the other; then a Redis master dies. Every login must end as a person would accept: completed, or the clean "start
// again" answer (503 page; or, for a flow lost with the dead master, the callback's "sign in
// again" page), never a 500 nor a hang; and portero must serve again by itself. The times measured
// are printed, and written in docs/OPERATIONS.md ("Redis topologies"). The topologies count a node
// as failed after NODE_TIMEOUT_MS (1 s); production Redis defaults are slower, see the docs.

export const GATEWAY = 'https://gateway.test';

/** The provider every failover test signs in at, served by msw for the whole file. */
export const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

/** What each test started (topologies, connections), stopped after it, last first. */
export const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export interface Instance {
  readonly test: TestApp;
  readonly connection: StoreConnection;
  /** What the store connection logged: what an operator sees. */
  readonly storeLogs: LogCapture;
}

/** Two instances on the topology `redisEnv` names, as operators run them: one COOKIE_SECRET, one key set. */
export async function twoInstances(redisEnv: Record<string, string>): Promise<[Instance, Instance]> {
  const keys = await ephemeralKeySet('ES256');
  // Limits far above the stream: they still count in the cluster, on the failing master too.
  const env = {
    ...idp.env('corp'),
    ...redisEnv,
    ALLOWED_REDIRECTS: 'https://app.example.com',
    RATE_LIMIT_LOGIN: '100000/60s',
    RATE_LIMIT_CALLBACK: '100000/60s',
    LOG_LEVEL: 'warn',
  };
  const make = async (): Promise<Instance> => {
    const storeLogs = new LogCapture();
    const connection = await connectStore(parseConfig(env).redis, createLogger('info', storeLogs));
    cleanups.push(() => connection.close());
    return { test: await buildTestApp({ store: connection.store, keys, env }), connection, storeLogs };
  };
  return [await make(), await make()];
}

/** Polls /readyz on both instances every 100 ms until stopped; every status seen, by instance. */
function watchReadyz(instances: readonly Instance[]) {
  const seen: { at: number; statuses: number[] }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const statuses = await Promise.all(instances.map(async ({ test }) => (await test.app.request(`${GATEWAY}/readyz`)).status));
      seen.push({ at: Date.now(), statuses });
      await sleep(100);
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await loop;
    },
  };
}

export function tally(outcomes: readonly LoginOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { detail } of outcomes) counts[detail] = (counts[detail] ?? 0) + 1;
  return counts;
}

/**
 * Runs the stream, kills with `kill` once it is warm, and waits until portero serves every login
 * again. Returns what was measured from the kill: the first completed login started after it, and
 * the first completed login after the last failed one (service fully back).
 */
export async function throughFailover(instances: [Instance, Instance], kill: () => Promise<void>, state: () => Promise<unknown>) {
  const stream = startLoginStream(idp, [instances[0].test, instances[1].test]);
  const readyz = watchReadyz(instances);
  try {
    const completed = (since: number) => stream.outcomes.filter((o) => o.kind === 'completed' && o.startedAt >= since);
    await pollUntil(() => completed(0).length >= 10, { what: '10 logins before the kill', timeoutMs: 15_000 });
    const killedAt = Date.now();
    await kill();
    // On a timeout, what the logins since the kill ended in, in the error: the failover's story.
    const explained = async (err: Error) => {
      const since = tally(stream.outcomes.filter((o) => o.startedAt >= killedAt));
      // The last words of each instance on it: why the logins failed, and the store's own story.
      const said = instances.map(({ test, storeLogs }) => [
        ...new Set(
          [...test.logs.lines, ...storeLogs.lines].slice(-20).map((line) => `${line.msg} ${JSON.stringify(line.reason ?? line.err ?? '')}`),
        ),
      ]);
      const topology = await state().catch((cause: Error) => cause.message);
      return new Error(
        `${err.message}; logins since the kill: ${JSON.stringify(since)}; logs: ${JSON.stringify(said)}; redis: ${JSON.stringify(topology)}`,
      );
    };
    const first = await pollUntil(() => completed(killedAt)[0], {
      what: 'a login completed after the kill',
      timeoutMs: 30_000,
      intervalMs: 20,
    }).catch(async (err: Error) => Promise.reject(await explained(err)));
    // Back for good: 20 logins in a row complete, and none fails for two seconds after the last failure.
    const lastFailure = () => Math.max(killedAt, ...stream.outcomes.filter((o) => o.kind !== 'completed').map((o) => o.endedAt));
    await pollUntil(() => completed(lastFailure()).length >= 20 && Date.now() - lastFailure() > 2000, {
      what: '20 logins in a row after the failover',
      timeoutMs: 30_000,
      intervalMs: 50,
    }).catch(async (err: Error) => Promise.reject(await explained(err)));
    await stream.stop();
    await readyz.stop();
    const failures = stream.outcomes.filter((o) => o.kind !== 'completed');
    const back = completed(lastFailure())[0];
    return {
      outcomes: stream.outcomes,
      readyz: readyz.seen,
      firstCompletedMs: first.endedAt - killedAt,
      fullyBackMs: back ? back.endedAt - killedAt : Number.NaN,
      failures: tally(failures),
      logins: stream.outcomes.length,
      killedAt,
    };
  } finally {
    await stream.stop();
    await readyz.stop();
  }
}

/** What a person must never see, and what portero must answer once the failover is over. */
export async function expectCleanFailover(
  result: Awaited<ReturnType<typeof throughFailover>>,
  instances: readonly Instance[],
  label: string,
) {
  const bad = result.outcomes.filter((o) => o.kind === 'bad');
  const down = result.readyz.filter(({ statuses }) => statuses.includes(503)).map(({ at }) => at - result.killedAt);
  console.log(
    `${label}: first login completed ${result.firstCompletedMs} ms after the kill, every login again after ${result.fullyBackMs} ms; ` +
      `${result.logins} logins, failures ${JSON.stringify(result.failures)}; ` +
      `/readyz 503 from ${down[0] ?? '-'} to ${down.at(-1) ?? '-'} ms after the kill; ` +
      `store log: ${JSON.stringify([...new Set(instances.flatMap((i) => i.storeLogs.lines.map((line) => line.msg)))])}`,
  );
  expect(tally(bad)).toEqual({});
  for (const { statuses } of result.readyz) for (const status of statuses) expect([200, 503]).toContain(status);
  for (const { test } of instances) expect((await test.app.request(`${GATEWAY}/readyz`)).status).toBe(200);
  // A generous bound on the mechanism, not a timing assertion: the measured time is printed above.
  expect(result.fullyBackMs).toBeLessThan(20_000);
}

/** Publishes on one store until the other's subscription delivers; the time that took. */
export async function untilDelivered(publisher: StoreConnection, received: string[], since: number): Promise<number> {
  await pollUntil(
    async () => {
      await publisher.store.publish('failover-test', 'after').catch(() => undefined);
      return received.includes('after');
    },
    { what: 'a message through the subscription after the failover', timeoutMs: 20_000, intervalMs: 100 },
  );
  return Date.now() - since;
}
