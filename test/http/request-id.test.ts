import { describe, expect, it } from 'vitest';
import { buildTestApp, memoryStore } from '../support/app.js';

describe('X-Request-Id', () => {
  it("keeps a client's short, plain id in the response and the log line, so a proxy's id follows the request", async () => {
    const gateway = await buildTestApp({ store: memoryStore() });
    const response = await gateway.app.request('https://gateway.test/nowhere', { headers: { 'x-request-id': 'edge-4f2a.9_b' } });
    expect(response.headers.get('x-request-id')).toBe('edge-4f2a.9_b');
    expect(gateway.logs.lines.at(-1)).toMatchObject({ request_id: 'edge-4f2a.9_b', status: 404 });
  });

  it('makes a fresh id for one that is long or carries anything but letters, digits, ., _ and -', async () => {
    const gateway = await buildTestApp({ store: memoryStore() });
    const forged = ['a'.repeat(65), 'x" level="fatal', 'id with spaces', '<script>', 'ab%0d%0a', 'a=b', ''];
    for (const id of forged) {
      const response = await gateway.app.request('https://gateway.test/nowhere', { headers: { 'x-request-id': id } });
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
