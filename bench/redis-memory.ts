/** What portero's records cost in Redis: MEMORY USAGE of every key (key and overhead included) before and after. */
import { Redis } from 'ioredis';

async function allKeys(redis: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** The sum of MEMORY USAGE (every element sampled) over every key of the database. */
async function totalUsage(redis: Redis): Promise<number> {
  let total = 0;
  for (const key of await allKeys(redis)) total += Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
  return total;
}

/** Bytes of MEMORY USAGE that `act` adds, divided by `count`: what each of the records it makes takes. */
export async function bytesPerRecord(redisUrl: string, count: number, act: () => Promise<void>): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  try {
    await redis.connect();
    const before = await totalUsage(redis);
    await act();
    return ((await totalUsage(redis)) - before) / count;
  } finally {
    redis.disconnect();
  }
}
