import { http, HttpResponse } from 'msw';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { boundedFetch, MAX_PROVIDER_RESPONSE_BYTES, ProviderResponseTooLarge } from '../../src/flow/provider-http.js';
import { HostileProvider } from '../support/hostile-provider.js';

// boundedFetch on its own, against a real server: what it returns, and what it leaves behind.
// test/http/hostile-provider.test.ts shows it on every endpoint through the gateway.

let provider: HostileProvider;
beforeAll(async () => {
  provider = await HostileProvider.start();
  provider.upstream = {
    handlers: () => [
      http.get(`${provider.origin}/ok`, () => HttpResponse.json({ ok: true }, { headers: { 'x-kept': 'yes' } })),
      http.get(`${provider.origin}/nothing`, () => new HttpResponse(null, { status: 204 })),
    ],
  };
});
afterAll(() => provider.close());
beforeEach(() => provider.reset());

const GET = { method: 'GET', headers: { accept: 'application/json' }, body: undefined, redirect: 'manual' as const };
/** This process's pending timers that keep it alive. */
const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;

describe('boundedFetch', () => {
  it('returns the answer as it came: status, headers, body; an empty one stays empty', async () => {
    const fetch = boundedFetch(60);
    const response = await fetch(`${provider.origin}/ok`, GET);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-kept')).toBe('yes');
    expect(await response.json()).toEqual({ ok: true });
    const empty = await fetch(`${provider.origin}/nothing`, GET);
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it('leaves no timer behind once the answer is read, or refused', async () => {
    const fetch = boundedFetch(60);
    await fetch(`${provider.origin}/ok`, GET); // the HTTP client's own timers, once
    const before = timers();
    await fetch(`${provider.origin}/ok`, GET);
    // At most as many: the HTTP client may have dropped one of its own meanwhile, never added one.
    expect(timers()).toBeLessThanOrEqual(before);
    provider.misbehave('/huge', 'huge');
    await expect(fetch(`${provider.origin}/huge`, GET)).rejects.toBeInstanceOf(ProviderResponseTooLarge);
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('refuses an answer over the limit while reading it, and closes the connection', async () => {
    provider.misbehave('/huge', 'huge');
    const error = await boundedFetch(60)(`${provider.origin}/huge`, GET).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ProviderResponseTooLarge);
    expect((error as Error).message).toBe(`${provider.origin}/huge answered more than ${MAX_PROVIDER_RESPONSE_BYTES} bytes`);
    await expect.poll(() => provider.openRequests).toBe(0);
  });

  it('gives up at the deadline with a TimeoutError, hanging or dripping, and closes the connection', async () => {
    for (const how of ['hang', 'drip'] as const) {
      provider.misbehave(`/${how}`, how);
      const started = Date.now();
      const error = await boundedFetch(1)(`${provider.origin}/${how}`, GET).catch((err: unknown) => err);
      expect(error).toMatchObject({ name: 'TimeoutError' });
      expect(Date.now() - started).toBeLessThan(6000);
      await expect.poll(() => provider.openRequests).toBe(0);
    }
  });
});
