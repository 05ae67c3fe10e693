import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { family, parseSamples } from '../support/prometheus.js';
import { type GatewayProcess, runGatewayToExit, startGateway } from '../support/process.js';
import { freePort } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';

// The gateway as an operator runs it, `node dist/main.js`, scraped as Prometheus scrapes it: on
// METRICS_PORT when set, and then never on the port that faces the internet.

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

let gateway: GatewayProcess;
let metricsPort: number;

beforeAll(async () => {
  metricsPort = await freePort();
  gateway = await startGateway({ env: { METRICS_PORT: String(metricsPort) } });
  await pollUntil(() => gateway.logLines().some((line) => line.msg === 'metrics listening' && line.port === metricsPort), {
    what: 'the "metrics listening" log line',
    timeoutMs: 10_000,
    intervalMs: 50,
  });
});
afterAll(async () => {
  await gateway?.stop();
});

describe('with METRICS_PORT', () => {
  it('serves /metrics there, with the process metrics and what the gateway counted', async () => {
    expect((await fetch(`${gateway.url}/auth`)).status).toBe(401);
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(PROMETHEUS_TEXT);
    const samples = parseSamples(await response.text());
    const names = new Set(samples.map((sample) => sample.name));
    expect(names).toContain('process_cpu_seconds_total');
    expect(names).toContain('nodejs_eventloop_lag_seconds');
    expect(family(samples, 'portero_auth_requests_total')).toMatchObject({ 'result=unauthenticated': 1, 'result=ok': 0 });
    // The built-in IdP of development mode is a configured provider like any other.
    expect(family(samples, 'portero_logins_started_total')).toEqual({ 'provider=dev': 0 });
  });

  it('answers 404 for /metrics on the gateway’s own port, and 404 for anything else on METRICS_PORT', async () => {
    expect((await fetch(`${gateway.url}/metrics`)).status).toBe(404);
    for (const path of ['/', '/auth', '/healthz', '/login/dev']) {
      expect((await fetch(`http://127.0.0.1:${metricsPort}${path}`)).status, path).toBe(404);
    }
  });
});

describe('without METRICS_PORT', () => {
  it('serves /metrics on the gateway’s port, process metrics included', async () => {
    const plain = await startGateway();
    try {
      const response = await fetch(`${plain.url}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(PROMETHEUS_TEXT);
      expect(new Set(parseSamples(await response.text()).map((sample) => sample.name))).toContain('process_cpu_seconds_total');
    } finally {
      await plain.stop();
    }
  });
});

describe('a METRICS_PORT another program holds', () => {
  it('stops the start with one line naming METRICS_PORT, exit code 1, no stack trace', async () => {
    const port = await freePort();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      const { code, stderr } = await runGatewayToExit({ METRICS_PORT: String(port) });
      expect(code).toBe(1);
      expect(stderr).toContain(`portero cannot start: METRICS_PORT ${port} on 127.0.0.1: listen EADDRINUSE`);
      expect(stderr).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});
