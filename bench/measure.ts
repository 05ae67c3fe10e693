/**
 * One row of the table: autocannon against one server on loopback, the server's CPU per request
 * from /proc, redone when other processes used the cores meanwhile.
 */
import autocannon, { type Request as CannonRequest, type Result } from 'autocannon';
import { processCpuMs, startWatch, waitForQuiet } from './proc.js';

export interface Settings {
  readonly connections: number;
  readonly seconds: number;
  /** Unmeasured load first, so the server's code is compiled and its connections open. */
  readonly warmupSeconds: number;
  /** Skip the wait for a quiet machine, never redo (the smoke run). */
  readonly smoke: boolean;
  /** Cores' worth of other processes' CPU above which a measurement is redone. */
  readonly otherThreshold: number;
  readonly attempts: number;
  /** How long to wait for a quiet machine before each attempt. */
  readonly quietWaitMs: number;
}

/** The processes the bench started: their CPU is never counted as another's, measured or idle. */
export const benchPids = new Set<number>();

export interface Target {
  readonly name: string;
  readonly url: string;
  /** The server process whose CPU is counted; `helpers` are counted beside it (Redis, the provider). */
  readonly pid: number;
  readonly helpers?: Readonly<Record<string, number>>;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly requests?: CannonRequest[];
  /** The status of a success: 200, or 302 for a redirect. */
  readonly status: number;
  /** Requests per counted unit: 2 for a whole login (login and callback). */
  readonly perUnit?: number;
}

export interface Row {
  readonly name: string;
  /** Counted units (requests, or whole logins) per second. */
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly units: number;
  /** The server's CPU per unit, all threads, user and system. */
  readonly cpuUsPerUnit: number;
  /** The helpers' CPU per unit (redis, the provider). */
  readonly helperCpuUsPerUnit: Record<string, number>;
  /** Cores' worth of CPU other processes used during the measurement. */
  readonly otherCores: number;
  readonly attempts: number;
}

function run(target: Target, settings: Settings, seconds: number): Promise<Result> {
  return autocannon({
    url: target.url,
    connections: settings.connections,
    duration: seconds,
    ...(target.method ? { method: target.method as 'GET' } : {}),
    ...(target.headers ? { headers: target.headers } : {}),
    ...(target.body ? { body: target.body } : {}),
    ...(target.requests ? { requests: target.requests } : {}),
  });
}

function once(target: Target, result: Result, cpu: { server: number; helpers: Record<string, number> }, otherCores: number) {
  const statuses = result.statusCodeStats as unknown as Record<string, { count: number } | undefined>;
  const answered = Object.values(statuses).reduce((sum, stat) => sum + (stat?.count ?? 0), 0);
  const good = statuses[String(target.status)]?.count ?? 0;
  const units = Math.floor(good / (target.perUnit ?? 1));
  const per = (ms: number) => (units > 0 ? (ms * 1000) / units : Number.NaN);
  return {
    name: target.name,
    rps: units / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: answered - good + result.errors + result.timeouts,
    units,
    cpuUsPerUnit: per(cpu.server),
    helperCpuUsPerUnit: Object.fromEntries(Object.entries(cpu.helpers).map(([name, ms]) => [name, per(ms)])),
    otherCores,
  };
}

/** Measures `target`: waits for a quiet machine, loads it, redoes an attempt others disturbed; keeps the least disturbed. */
export async function measure(target: Target, settings: Settings): Promise<Row> {
  const helpers = Object.entries(target.helpers ?? {});
  const ours = [...new Set([target.pid, ...helpers.map(([, pid]) => pid), ...benchPids])];
  if (settings.warmupSeconds > 0) await run(target, settings, settings.warmupSeconds);
  let best: Omit<Row, 'attempts'> | undefined;
  let attempt = 0;
  while (attempt < (settings.smoke ? 1 : settings.attempts)) {
    attempt += 1;
    if (!settings.smoke) await waitForQuiet(ours, { threshold: settings.otherThreshold, maxMs: settings.quietWaitMs });
    const watch = startWatch(ours);
    const server = processCpuMs(target.pid);
    const helperStart = helpers.map(([, pid]) => processCpuMs(pid));
    const result = await run(target, settings, settings.seconds);
    const cpu = {
      server: processCpuMs(target.pid) - server,
      helpers: Object.fromEntries(helpers.map(([name, pid], i) => [name, processCpuMs(pid) - (helperStart[i] ?? 0)])),
    };
    const row = once(target, result, cpu, watch.stop().otherCores);
    if (!best || row.otherCores < best.otherCores) best = row;
    if (row.otherCores < settings.otherThreshold) break;
  }
  if (!best) throw new Error(`no measurement of ${target.name}`);
  return { ...best, attempts: attempt };
}
