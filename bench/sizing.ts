/**
 * Going past one machine, from the run's own numbers: what one core of gateway CPU (all of a
 * process's threads counted) and one Redis shard (Redis runs commands on one thread) can take, and
 * what a given load needs. CPU bound, at a planned utilisation, so that peaks and the loss of one
 * instance fit.
 */
import type { Row } from './measure.js';
import type { Memory, RowKey } from './report.js';

/** The load of the example: a million logins and ten million /auth calls an hour. */
export const WORKLOAD = { loginsPerHour: 1_000_000, authPerHour: 10_000_000 };
/** The share of a core planned for the hour's average load: a peak of twice the average still fits. */
export const PLANNED_UTILISATION = 0.5;
const FLOW_TTL_S = 600;
const JWT_TTL_S = 3600;

export interface Sizing {
  readonly loginsPerSecondPerGatewayCore: number;
  readonly authPerSecondPerGatewayCore: number;
  readonly loginsPerSecondPerRedisShard: number;
  readonly authPerSecondPerRedisShard: number;
  readonly redisMiBPerMillionPendingFlows: number;
  readonly redisMiBPerMillionRevokedSessions: number;
  readonly redisMiBPerMillionSessions: number;
  readonly workload: {
    readonly loginsPerSecond: number;
    readonly authPerSecond: number;
    /** Cores of gateway CPU the average load takes. */
    readonly gatewayCores: number;
    readonly redisCores: number;
    /** At most this many flows pending at once: every login of a FLOW_TTL abandoned. */
    readonly redisMiBPendingFlowsWorstCase: number;
    /** Every session of a JWT_TTL signed out (kept that long). */
    readonly redisMiBRevokedWorstCase: number;
    /** At PLANNED_UTILISATION, one core each, plus one (an instance may fail or be redeployed). */
    readonly instances: number;
    readonly redisShards: number;
  };
}

const perCore = (us: number | undefined) => (us && us > 0 ? 1_000_000 / us : Number.NaN);
const mib = (bytes: number) => bytes / 2 ** 20;

export function sizing(rows: Partial<Record<RowKey, Row>>, memory: Memory): Sizing {
  const loginUs = rows.flow?.cpuUsPerUnit ?? Number.NaN;
  const authUs = rows.auth?.cpuUsPerUnit ?? Number.NaN;
  const loginRedisUs = rows.flow?.helperCpuUsPerUnit.redis ?? Number.NaN;
  const authRedisUs = rows.auth?.helperCpuUsPerUnit.redis ?? Number.NaN;
  const loginsPerSecond = WORKLOAD.loginsPerHour / 3600;
  const authPerSecond = WORKLOAD.authPerHour / 3600;
  const gatewayCores = (loginsPerSecond * loginUs + authPerSecond * authUs) / 1_000_000;
  const redisCores = (loginsPerSecond * loginRedisUs + authPerSecond * authRedisUs) / 1_000_000;
  const pendingWorst = mib(loginsPerSecond * FLOW_TTL_S * memory.bytesPerPendingFlow);
  const revokedWorst = mib(loginsPerSecond * JWT_TTL_S * memory.bytesPerRevokedSession);
  return {
    loginsPerSecondPerGatewayCore: perCore(loginUs),
    authPerSecondPerGatewayCore: perCore(authUs),
    loginsPerSecondPerRedisShard: perCore(loginRedisUs),
    authPerSecondPerRedisShard: perCore(authRedisUs),
    redisMiBPerMillionPendingFlows: mib(memory.bytesPerPendingFlow * 1_000_000),
    redisMiBPerMillionRevokedSessions: mib(memory.bytesPerRevokedSession * 1_000_000),
    redisMiBPerMillionSessions: mib(memory.bytesPerSession * 1_000_000),
    workload: {
      loginsPerSecond,
      authPerSecond,
      gatewayCores,
      redisCores,
      redisMiBPendingFlowsWorstCase: pendingWorst,
      redisMiBRevokedWorstCase: revokedWorst,
      instances: Math.ceil(gatewayCores / PLANNED_UTILISATION) + 1,
      redisShards: Math.max(1, Math.ceil(redisCores / PLANNED_UTILISATION)),
    },
  };
}

const n = (value: number, digits = 0) => (Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits }) : '-');

export function formatSizing(s: Sizing): string {
  const w = s.workload;
  return [
    `per gateway core: ${n(s.loginsPerSecondPerGatewayCore)} whole logins/s or ${n(s.authPerSecondPerGatewayCore)} /auth/s`,
    `per Redis shard (one thread): ${n(s.loginsPerSecondPerRedisShard)} whole logins/s or ${n(s.authPerSecondPerRedisShard)} /auth/s`,
    `Redis per million pending flows: ${n(s.redisMiBPerMillionPendingFlows)} MiB; per million revoked sessions: ${n(s.redisMiBPerMillionRevokedSessions)} MiB; per million signed-in sessions: ${n(s.redisMiBPerMillionSessions)} MiB`,
    `${n(WORKLOAD.loginsPerHour)} logins/h (${n(w.loginsPerSecond)}/s) and ${n(WORKLOAD.authPerHour)} /auth/h (${n(w.authPerSecond)}/s): ` +
      `${n(w.gatewayCores, 2)} gateway cores, ${n(w.redisCores, 3)} Redis cores on average; ` +
      `${w.instances} one-core instances (one spare) and ${w.redisShards} Redis shard(s) at ${PLANNED_UTILISATION * 100}% planned use; ` +
      `Redis at most ${n(w.redisMiBPendingFlowsWorstCase)} MiB of pending flows and ${n(w.redisMiBRevokedWorstCase)} MiB of revocations`,
  ].join('\n');
}
