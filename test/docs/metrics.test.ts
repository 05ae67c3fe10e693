import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Metrics } from '../../src/metrics.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const envExample = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');

/** The README's section on metrics, from its heading to the next. */
const section = readme.slice(readme.indexOf('### Metrics'), readme.indexOf('\n## ', readme.indexOf('### Metrics')));

/** The rows of its table: metric, type, labels, as written. */
function documentedMetrics(): Map<string, { type: string; labels: string[] }> {
  const rows = section.split('\n').filter((line) => line.startsWith('| `portero_'));
  return new Map(
    rows.map((row) => {
      const [, name = '', type = '', labels = ''] = row.split('|').map((cell) => cell.trim());
      return [name.replaceAll('`', ''), { type, labels: [...labels.matchAll(/`([a-z_]+)`/g)].map((m) => m[1] ?? '') }];
    }),
  );
}

describe("README's table of metrics", () => {
  it('lists every metric of portero, with its type and exactly its labels, and nothing it does not serve', () => {
    const served = new Metrics().registry
      .getMetricsAsArray()
      .map((metric) => metric as unknown as { name: string; type: string; labelNames: string[] });
    const documented = documentedMetrics();
    expect([...documented.keys()].sort()).toEqual(served.map((metric) => metric.name).sort());
    for (const metric of served) {
      expect(documented.get(metric.name), metric.name).toEqual({ type: metric.type, labels: metric.labelNames });
    }
  });

  it('shows a scrape configuration Prometheus reads, on the port .env.example gives METRICS_PORT', () => {
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block, 'no yaml block in the Metrics section').toBeDefined();
    const config = parse(block ?? '') as {
      scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[] }[] }[];
    };
    const [job] = config.scrape_configs;
    expect(job).toMatchObject({ job_name: 'portero', metrics_path: '/metrics' });
    const port = /^#METRICS_PORT=(\d+)$/m.exec(envExample)?.[1];
    for (const target of job?.static_configs.flatMap((entry) => entry.targets) ?? []) expect(target).toMatch(new RegExp(`:${port}$`));
  });
});
