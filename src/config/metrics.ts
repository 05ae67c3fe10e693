import type { EnvReader } from './reader.js';
import type { MetricsConfig, ServerConfig } from './types.js';

/**
 * METRICS_PORT and METRICS_HOST: where `/metrics` is served apart from the gateway, so that it
 * need not face the internet (oauth2-proxy's `--metrics-address`). Unset, `/metrics` is on PORT.
 * METRICS_HOST defaults to HOST: a scraper reaches the instance where its other clients do.
 */
export function metricsServer(reader: EnvReader, server: ServerConfig): MetricsConfig {
  const raw = reader.text('METRICS_PORT');
  const host = reader.text('METRICS_HOST');
  if (raw === undefined) {
    if (host !== undefined) reader.problem('METRICS_HOST is set without METRICS_PORT: set METRICS_PORT too, or unset METRICS_HOST');
    return { host: server.host };
  }
  const port = reader.integer('METRICS_PORT', 0, 1, 65535);
  if (port === 0) return { host: host ?? server.host };
  if (port === server.port) {
    reader.problem(`METRICS_PORT must differ from PORT (both ${port}): /metrics is served by a server of its own`);
  }
  return { port, host: host ?? server.host };
}

/**
 * What start-up warns about in production without METRICS_PORT: `/metrics` on PORT, where a proxy
 * that sends everything to portero makes the providers' ids and the traffic public. Not refused:
 * behind a proxy that routes only some paths to portero, it is fine.
 */
export function publicMetricsWarning(config: {
  readonly mode: 'development' | 'production';
  readonly metrics: MetricsConfig;
}): string | undefined {
  if (config.mode !== 'production' || config.metrics.port !== undefined) return undefined;
  return 'METRICS_PORT unset: /metrics is served on PORT, which a proxy may make public; set METRICS_PORT to serve it apart';
}
