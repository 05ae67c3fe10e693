/** The bench's table, its ratios to the baselines, and the issue's targets, as text and as JSON. */
import type { Row } from './measure.js';

export const PORTERO_ROWS = ['login', 'flow', 'auth', 'jwks'] as const;
export const BASELINE_ROWS = ['hono', 'jose', 'eoc', 'authjs'] as const;
export type RowKey = (typeof PORTERO_ROWS)[number] | (typeof BASELINE_ROWS)[number];

export const ROW_NAMES: Readonly<Record<RowKey, string>> = {
  login: 'portero GET /login/corp',
  flow: 'portero login + callback (whole logins)',
  auth: 'portero GET /auth (valid token)',
  jwks: 'portero GET /.well-known/jwks.json',
  hono: 'bare Hono "ok" (ceiling)',
  jose: 'bare Hono + jose ES256 verify per request',
  eoc: 'express-openid-connect GET /login',
  authjs: 'Auth.js POST /auth/signin/corp',
};

export interface Memory {
  /** MEMORY USAGE of what one pending flow adds to Redis, keys included. */
  readonly bytesPerPendingFlow: number;
  /** MEMORY USAGE of what one signed-in session adds to Redis (its record, its grant with the ID token, its index entry). */
  readonly bytesPerSession: number;
  /** MEMORY USAGE of what one sign-out leaves in Redis (its revocation), once its session is forgotten. */
  readonly bytesPerRevokedSession: number;
  readonly rssIdleBytes: number;
  readonly rssAfterLoadBytes: number;
}

export interface TargetCheck {
  readonly target: string;
  readonly value: number;
  readonly limit: number;
  readonly unit: string;
  readonly met: boolean;
}

const ratio = (a: Row | undefined, b: Row | undefined) => (a && b && b.rps > 0 ? a.rps / b.rps : Number.NaN);

/** The portero rows counted in requests, as the baselines are (the whole-login row counts logins). */
const PER_REQUEST_ROWS = ['login', 'auth', 'jwks'] as const;

/** rps of each portero row counted in requests over each baseline's. */
export function ratios(rows: Partial<Record<RowKey, Row>>): Record<string, Record<string, number>> {
  return Object.fromEntries(
    PER_REQUEST_ROWS.map((key) => [key, Object.fromEntries(BASELINE_ROWS.map((base) => [base, ratio(rows[key], rows[base])]))]),
  );
}

/** The targets of issue 9, each with the measured value. */
export function checkTargets(rows: Partial<Record<RowKey, Row>>, memory: Memory): TargetCheck[] {
  const at = (target: string, value: number, limit: number, unit: string, atLeast: boolean): TargetCheck => ({
    target,
    value,
    limit,
    unit,
    met: atLeast ? value >= limit : value <= limit,
  });
  return [
    at('/auth req/s over bare Hono', ratio(rows.auth, rows.hono), 0.3, 'x', true),
    at('/auth req/s over Hono + jose verify', ratio(rows.auth, rows.jose), 2.5, 'x', true),
    at('/auth p99 at 50 connections', rows.auth?.p99Ms ?? Number.NaN, 5, 'ms', false),
    at('/login req/s over express-openid-connect /login', ratio(rows.login, rows.eoc), 3, 'x', true),
    at('gateway CPU per whole login', (rows.flow?.cpuUsPerUnit ?? Number.NaN) / 1000, 1, 'ms', false),
    at('Redis per pending flow (MEMORY USAGE)', memory.bytesPerPendingFlow, 200, 'bytes', false),
    at('portero RSS after load', memory.rssAfterLoadBytes / 2 ** 20, 100, 'MiB', false),
  ];
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

function table(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((width, i) => (i === 0 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

/** The report as Markdown tables: measurements, ratios, targets, memory. */
export function formatReport(rows: Partial<Record<RowKey, Row>>, memory: Memory, targets: readonly TargetCheck[]): string {
  const keys = [...PORTERO_ROWS, ...BASELINE_ROWS].filter((key) => rows[key]);
  const measured = table(
    ['', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server CPU µs/req', 'Redis CPU µs/req', 'others (cores)'],
    keys.map((key) => {
      const row = rows[key] as Row;
      return [
        ROW_NAMES[key],
        fixed(row.rps, 0),
        fixed(row.p50Ms, 1),
        fixed(row.p99Ms, 1),
        String(row.errors),
        fixed(row.cpuUsPerUnit, 0),
        fixed(row.helperCpuUsPerUnit.redis ?? Number.NaN, 0),
        `${fixed(row.otherCores, 2)}${row.attempts > 1 ? ` (try ${row.attempts})` : ''}`,
      ];
    }),
  );
  const all = ratios(rows);
  const ratioTable = table(
    ['req/s ratio', ...BASELINE_ROWS.map((base) => base)],
    PER_REQUEST_ROWS.map((key) => [key, ...BASELINE_ROWS.map((base) => `${fixed(all[key]?.[base] ?? Number.NaN, 2)}x`)]),
  );
  const targetTable = table(
    ['target', 'measured', 'goal', ''],
    targets.map((t) => [t.target, `${fixed(t.value, 2)} ${t.unit}`, `${t.limit} ${t.unit}`, t.met ? 'met' : 'missed']),
  );
  const mib = (bytes: number) => fixed(bytes / 2 ** 20, 1);
  const mem = [
    `Redis per pending flow: ${fixed(memory.bytesPerPendingFlow, 0)} bytes; per session: ${fixed(memory.bytesPerSession, 0)} bytes; per revoked session: ${fixed(memory.bytesPerRevokedSession, 0)} bytes`,
    `portero RSS: ${mib(memory.rssIdleBytes)} MiB idle, ${mib(memory.rssAfterLoadBytes)} MiB after load`,
  ].join('\n');
  return [measured, ratioTable, targetTable, mem].join('\n\n');
}
