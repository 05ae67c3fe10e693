import { describe, expect, it } from 'vitest';
import { buildTestApp, fromPeer, memoryStore } from '../support/app.js';

describe('X-Request-Id', () => {
  const behindProxy = () => buildTestApp({ store: memoryStore(), env: { TRUSTED_PROXIES: '10.0.0.0/8' } });

  it("keeps a trusted proxy's short, plain id in the response and the log line, so one request is followed through both logs", async () => {
    const gateway = await behindProxy();
    const response = await gateway.app.request(
      'https://gateway.test/nowhere',
      { headers: { 'x-request-id': 'edge-4f2a.9_b' } },
      fromPeer('10.0.0.2'),
    );
    expect(response.headers.get('x-request-id')).toBe('edge-4f2a.9_b');
    expect(gateway.logs.lines.at(-1)).toMatchObject({ request_id: 'edge-4f2a.9_b', status: 404 });
  });

  it("never keeps a client's own id, which could reuse another request's", async () => {
    const gateway = await behindProxy();
    const id = '3f2b7c1e-9a4d-4c1b-8e2f-0a1b2c3d4e5f';
    const response = await gateway.app.request(
      'https://gateway.test/nowhere',
      { headers: { 'x-request-id': id } },
      fromPeer('198.51.100.66'),
    );
    expect(response.headers.get('x-request-id')).not.toBe(id);
    expect(gateway.logs.lines.filter((line) => line.request_id === id)).toEqual([]);
  });

  it('makes a fresh id for one that is long or carries anything but letters, digits, ., _ and -', async () => {
    const gateway = await behindProxy();
    const forged = ['a'.repeat(65), 'x" level="fatal', 'id with spaces', '<script>', 'ab%0d%0a', 'a=b', ''];
    for (const id of forged) {
      const response = await gateway.app.request('https://gateway.test/nowhere', { headers: { 'x-request-id': id } }, fromPeer('10.0.0.2'));
      const given = response.headers.get('x-request-id');
      expect(given).toMatch(/^[0-9a-f-]{36}$/);
      if (id) expect(await response.text()).not.toContain(id);
      expect(gateway.logs.lines.at(-1)?.request_id).toBe(given);
    }
  });
});

describe('the request log line', () => {
  it("cuts a client's very long path to 512 characters, so a flood of long paths cannot flood the log", async () => {
    const gateway = await buildTestApp({ store: memoryStore() });
    const response = await gateway.app.request(`https://gateway.test/${'a'.repeat(8000)}`);
    expect(response.status).toBe(404);
    const path = String(gateway.logs.lines.at(-1)?.path);
    expect(path).toBe(`/${'a'.repeat(511)}…`);
  });
});
