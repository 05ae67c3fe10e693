import { describe, expect, it } from 'vitest';
import { buildTestApp, memoryStore } from '../support/app.js';

// After SIGTERM the process drains (src/shutdown.ts): the requests in flight finish, and /readyz
// tells the load balancer to send no more, while /healthz says the process still lives.

describe('/readyz while the process drains', () => {
  it('answers 503 {"status":"draining"}, never cached; /healthz still 200; before the drain, 200', async () => {
    let draining = false;
    const { app } = await buildTestApp({ store: memoryStore(), draining: () => draining });
    expect((await app.request('https://gateway.test/readyz')).status).toBe(200);

    draining = true;
    const response = await app.request('https://gateway.test/readyz');
    expect(response.status).toBe(503);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({ status: 'draining' });
    expect((await app.request('https://gateway.test/healthz')).status).toBe(200);
  });
});
