import { describe, expect, it } from 'vitest';
import { buildTestApp, memoryStore } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { freePort } from '../support/redis-server.js';

// No msw here: the provider's address is a real port nothing listens on, so the log shows what an
// operator would read when an issuer is mistyped or down.

describe('a provider that cannot be reached', () => {
  it('is logged with the address asked and the real cause, not just "fetch failed"; the person gets a clean page', async () => {
    const port = await freePort();
    const gateway = await buildTestApp({
      store: memoryStore(),
      env: {
        PROVIDER_CORP_TYPE: 'oidc',
        PROVIDER_CORP_ISSUER: `http://127.0.0.1:${port}`,
        PROVIDER_CORP_CLIENT_ID: 'portero',
        PROVIDER_CORP_CLIENT_SECRET: 'a-secret',
      },
    });
    const response = await new TestBrowser().get(gateway.app, 'https://gateway.test/login/corp', { accept: 'text/html' });
    expect(response.status).toBe(502);
    expect(await response.text()).toContain('Start again');
    const line = gateway.logs.lines.find((entry) => entry.error === 'provider_unavailable');
    expect(line).toMatchObject({
      provider: 'corp',
      url: `http://127.0.0.1:${port}/.well-known/openid-configuration`,
      reason: `fetch failed: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
    expect(gateway.logs.raw.join('\n')).not.toContain('a-secret');
  });
});
