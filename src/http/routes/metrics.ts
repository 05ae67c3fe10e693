import { Hono } from 'hono';
import type { Metrics } from '../../metrics.js';
import type { AppEnv } from '../types.js';

/**
 * `GET /metrics`: the registry in the Prometheus text format. On the gateway's own port when
 * METRICS_PORT is unset, else only on METRICS_PORT (`createMetricsApp`), so it need not face the internet.
 */
export function metricsRoutes(metrics: Metrics) {
  const app = new Hono<AppEnv>();
  app.get('/metrics', async (c) => {
    const { body, contentType } = await metrics.scrape();
    c.header('cache-control', 'no-store');
    c.header('content-type', contentType);
    return c.body(body, 200);
  });
  return app;
}
