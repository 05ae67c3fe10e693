import { stat } from 'node:fs/promises';
import type { Config, RedisConfig, TokenConfig } from '../../config/types.js';
import { isPorteroError } from '../../errors.js';
import { createLogger } from '../../logger.js';
import { connectStore } from '../../store/connect.js';
import { describeTarget } from '../../store/redis-client.js';
import { loadKeyFile } from '../../tokens/keys.js';

/** What one check found: `ok`, `warn` (portero runs, but look), `FAIL` (it would not start or not serve), `skip` (nothing to check). */
export interface CheckResult {
  readonly status: 'ok' | 'warn' | 'FAIL' | 'skip';
  /** What was checked: `JWT_KEYS /etc/portero/keys.json`, `Redis redis://…`, `provider corp`. */
  readonly what: string;
  readonly detail: string;
}

export const result = (status: CheckResult['status'], what: string, detail: string): CheckResult => ({ status, what, detail });

/**
 * A key file's error without what JSON.parse quotes of the file (a broken key file's text is key
 * material): the system's own error (ENOENT, EACCES) is kept.
 */
function keyFileError(message: string): string {
  const parse = /^(JWT_KEYS: cannot read .* as JSON): (.*)$/s.exec(message);
  if (!parse) return message;
  const [, head = '', cause = ''] = parse;
  return /^E[A-Z]+:/.test(cause) ? message : `${head}: it is not valid JSON`;
}

/**
 * JWT_KEYS: the file loads as start-up loads it (every key valid, the first of JWT_ALG, an RS256 key
 * when apps are configured); its kids, which signs what; a warning when others may read it.
 */
export async function checkKeys(tokens: TokenConfig, mode: Config['mode'], forApps = false): Promise<CheckResult> {
  const path = tokens.keysFile;
  if (!path) {
    const rsa = forApps && tokens.alg !== 'RS256' ? " (and the apps' tokens with an ephemeral RS256 key)" : '';
    return mode === 'production'
      ? result('skip', 'JWT_KEYS', 'unset (see the settings above)')
      : result('skip', 'JWT_KEYS', `unset: development mode signs with an ephemeral key${rsa}, and tokens stop verifying on restart`);
  }
  const what = `JWT_KEYS ${path}`;
  try {
    const keys = await loadKeyFile(path, tokens.alg, { forApps });
    const kids = keys.publicJwks.keys.map((key) => key.kid);
    const published = kids.slice(1);
    const apps = forApps ? `; the apps' tokens with kid ${keys.rsaKid} (RS256)` : '';
    const detail = `${kids.length} key${kids.length === 1 ? '' : 's'}: signs with kid ${keys.signing.kid} (${keys.signing.alg})${apps}${published.length > 0 ? `; also published: ${published.join(', ')}` : ''}`;
    const bits = (await stat(path)).mode & 0o777;
    if (bits & 0o077)
      return result('warn', what, `${detail}; but its mode is ${bits.toString(8)}: others may read the private keys (chmod 600)`);
    return result('ok', what, detail);
  } catch (err) {
    return result('FAIL', what, keyFileError((err as Error).message));
  }
}

/** A logger whose lines are kept, not printed: what ioredis's errors said (`connect ECONNREFUSED …`) is the cause to show. */
function keptLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('debug', {
    write(line: string) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not one of pino's lines: nothing to keep.
      }
    },
  });
  return { logger, lines };
}

/** Why Redis could not be reached: the connection's own errors as logged, else the failed command's cause. */
function unreachableReason(lines: readonly Record<string, unknown>[], err: unknown): string {
  const said = lines
    .filter((line) => line.msg === 'redis unreachable' || line.msg === 'redis cluster node unreachable')
    .map((line) => `${typeof line.node === 'string' ? `${line.node}: ` : ''}${String(line.err)}`);
  if (said.length > 0) return [...new Set(said)].join('; ');
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * Redis as start-up connects to it (waiting up to REDIS_STARTUP_WAIT seconds, at least one): it
 * answers PING (every master, on a Cluster), and keeps every key: a Redis that may evict them
 * fails, or warns when REDIS_ALLOW_EVICTION accepts it.
 */
export async function checkRedis(redis: RedisConfig): Promise<CheckResult> {
  const { topology } = redis;
  if (!topology) return result('skip', 'Redis', 'none configured: the in-memory store serves one instance only (development)');
  const what = `Redis ${describeTarget({ ...redis, topology })}`;
  const { logger, lines } = keptLogger();
  // Eviction refused here whatever REDIS_ALLOW_EVICTION says, so the check sees the guard's verdict.
  const connection = await connectStore({ ...redis, allowEviction: false, startupWait: Math.max(1, redis.startupWait) }, logger);
  try {
    await connection.store.ping();
    return result('ok', what, 'answers PING, and keeps every key (no maxmemory, or maxmemory-policy noeviction)');
  } catch (err) {
    // The guard's refusal carries its reason and no cause; a failed command has its cause.
    const reason = isPorteroError(err) && err.cause === undefined ? err.detail.reason : undefined;
    if (typeof reason !== 'string') return result('FAIL', what, `unreachable: ${unreachableReason(lines, err)}`);
    if (redis.allowEviction) return result('warn', what, `reachable; ${reason} (accepted by REDIS_ALLOW_EVICTION=true)`);
    return result('FAIL', what, `reachable, but portero would refuse to serve: ${reason}`);
  } finally {
    await connection.close();
  }
}
