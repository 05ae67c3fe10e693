import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostileProvider } from '../support/hostile-provider.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { type GatewayProcess, startGateway } from '../support/process.js';

// The gateway as operators run it (`node dist/main.js`): PROVIDER_TIMEOUT must reach every request
// to a provider, discovery at start included. Its discovery here never answers.

let provider: HostileProvider;
let gateway: GatewayProcess;

beforeAll(async () => {
  provider = await HostileProvider.start();
  provider.upstream = await new MockOidcProvider(provider.origin).init();
  provider.misbehave('/.well-known/openid-configuration', 'hang');
  gateway = await startGateway({ env: { ...(provider.upstream as MockOidcProvider).env('corp'), PROVIDER_TIMEOUT: '1' } });
});
afterAll(async () => {
  await gateway?.stop();
  await provider?.close();
});

describe('PROVIDER_TIMEOUT in the running gateway', () => {
  it('gives up a provider that never answers after PROVIDER_TIMEOUT: a 504 page, not a wait of the default 10 s', async () => {
    const started = Date.now();
    const response = await fetch(`${gateway.url}/login/corp`, { redirect: 'manual', signal: AbortSignal.timeout(15_000) });
    expect(response.status).toBe(504);
    expect(await response.text()).toContain('The sign-in provider did not answer in time');
    expect(Date.now() - started).toBeLessThan(6000);
    // Its discovery at start gave up too; the line may still be on its way through the pipe.
    const failed = () => gateway.logLines().find((line) => line.msg === 'provider discovery failed; will retry');
    await expect.poll(failed, { timeout: 2000 }).toMatchObject({ level: 'warn', provider: 'corp' });
  });
});
