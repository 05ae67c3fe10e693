import { afterAll, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../support/process.js';
import { freePort, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';

// Orchestrators start containers in any order: a gateway whose Redis is not up yet must come up
// unready (and say so), not crash into a restart loop, and become ready when Redis arrives.

let gateway: GatewayProcess | undefined;
let redis: RedisServer | undefined;
afterAll(async () => {
  await gateway?.stop();
  await redis?.stop();
});

async function readyStatus(url: string) {
  return (await fetch(`${url}/readyz`, { headers: { accept: 'application/json' } })).status;
}

it('starts unready while Redis is unreachable, and becomes ready when it comes', async () => {
  const redisPort = await freePort();
  gateway = await startGateway({ env: { REDIS_URL: `redis://127.0.0.1:${redisPort}`, REDIS_STARTUP_WAIT: '0' } });
  expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  expect(await readyStatus(gateway.url)).toBe(503);
  expect(gateway.logLines().some((line) => line.msg === 'redis not reachable yet; starting unready, will keep trying')).toBe(true);

  redis = await startRedisServer({ port: redisPort });
  const ready = async () => (await readyStatus(gateway!.url)) === 200;
  await pollUntil(ready, { what: `${gateway.url}/readyz to answer 200`, timeoutMs: 10_000, intervalMs: 200 }).catch((err: Error) => {
    throw new Error(`never became ready: ${err.message}\n${gateway!.logs()}`);
  });
  expect(gateway.logLines().some((line) => line.msg === 'redis reachable again')).toBe(true);
});
