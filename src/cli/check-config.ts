/**
 * Checks a configuration before it is deployed: `npm run check-config`.
 *
 * Reads the environment and `.env` (or ENV_FILE) exactly as start-up does, prints one row per
 * setting (its value, secrets masked; set, default, missing or wrong, with the problem), then
 * checks what start-up and the first login would meet: the JWT_KEYS file, Redis, each provider;
 * and lists the apps (APP_<ID>_*) as registered, never their secrets.
 * Exit 0 when portero would start and serve (warnings allowed), 1 otherwise, 2 for a wrong argument.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Env, readEnv } from '../config/env.js';
import { inspectConfig } from '../config/parse.js';
import type { Config } from '../config/types.js';
import { listApps } from './check-config/apps.js';
import { type CheckResult, checkKeys, checkRedis } from './check-config/checks.js';
import { checkProviders } from './check-config/providers.js';
import { type SettingRow, scrub, secretValues, settingRows } from './check-config/settings.js';
import { porteroVersion } from './version.js';

const USAGE =
  'usage: npm run check-config (in the Docker image: node dist/cli/check-config.js); reads the environment and .env, or ENV_FILE';

/** Prints `text`, then exits with `code` once it is written (a pipe too); the caller returns at once. */
function finish(text: string, code: number, stream: NodeJS.WriteStream = process.stdout): void {
  stream.write(text, () => process.exit(code));
}

/** `--help` (usage, exit 0) or a wrong argument (exit 2): done, nothing checked. */
function answeredArguments(): boolean {
  try {
    const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
    if (!values.help) return false;
    finish(`${USAGE}\n`, 0);
  } catch (err) {
    finish(`check-config: ${(err as Error).message.split('\n')[0]}\n${USAGE}\n`, 2, process.stderr);
  }
  return true;
}

/** Where the settings came from, as readEnv found them. */
function source(processEnv: Env): string {
  const named = processEnv.ENV_FILE?.trim() || undefined;
  const path = resolve(named ?? '.env');
  return existsSync(path) ? `the environment, over ${path}` : 'the environment (no .env file)';
}

/** Columns padded to their widest cell; the last one, which may be long, is not. */
function table(header: readonly string[], body: readonly (readonly string[])[]): string[] {
  const all = [header, ...body];
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  return all.map(
    (row) => `  ${row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ')}`,
  );
}

const statusOf = (row: SettingRow) => (row.problems.length > 0 ? `${row.status}: ${row.problems.join('; ')}` : row.status);

/** What development mode makes up where production refuses to start, each named. */
function madeUp(config: Config): string[] {
  if (config.mode !== 'development') return [];
  const notes = [
    config.cookies.secretGenerated && 'COOKIE_SECRET: a random one per process (logins in flight fail on a restart)',
    !config.tokens.keysFile &&
      `JWT_KEYS: an ephemeral signing key${config.apps.length > 0 && config.tokens.alg !== 'RS256' ? ", and an ephemeral RS256 key for the apps' tokens" : ''} (its tokens stop verifying on a restart)`,
    !config.redis.topology && 'REDIS_URL: an in-memory store (it serves one instance only)',
    config.dev.idp && 'PROVIDER_*: the built-in development IdP as provider "dev", where any user name signs in',
    config.server.host === '127.0.0.1' && 'HOST: loopback only (127.0.0.1)',
  ].filter((note): note is string => typeof note === 'string');
  if (notes.length === 0) return [];
  return [
    'Development mode (NODE_ENV is not production) makes up what production requires:',
    ...notes.map((note) => `  - ${note}`),
    'Set NODE_ENV=production to check this as production would run it.',
    '',
  ];
}

function section(title: string, lines: readonly string[]): string[] {
  return lines.length === 0 ? [] : [title, ...lines.map((line) => `  - ${line}`), ''];
}

function summary(problems: number, checks: readonly CheckResult[], warnings: number): string {
  const failed = checks.filter((check) => check.status === 'FAIL').length;
  const warned = warnings + checks.filter((check) => check.status === 'warn').length;
  const notes = warned > 0 ? ` (${warned} warning${warned === 1 ? '' : 's'})` : '';
  if (problems === 0 && failed === 0) return `Result: good: portero can start and serve with this configuration${notes}.`;
  const parts = [
    problems > 0 && `${problems} problem${problems === 1 ? '' : 's'} in the settings (portero would not start)`,
    failed > 0 && `${failed} check${failed === 1 ? '' : 's'} failed`,
  ].filter(Boolean);
  return `Result: ${parts.join(', ')}${notes}.`;
}

async function main(): Promise<void> {
  if (answeredArguments()) return;
  let env: Env;
  try {
    env = readEnv();
  } catch (err) {
    // As start-up refuses it: a named ENV_FILE that is missing, a .env that is a directory.
    return finish(`check-config: ${(err as Error).message}\n`, 1, process.stderr);
  }
  const inspection = inspectConfig(env);
  const { config, problems } = inspection;
  const { rows, unattributed } = settingRows(env, inspection);
  const [keys, redis, providers] = await Promise.all([
    checkKeys(config.tokens, config.mode, config.apps.length > 0),
    checkRedis(config.redis),
    checkProviders(config),
  ]);
  const checks = [keys, redis, ...providers, ...listApps(config, env)];
  const lines = [
    `portero ${porteroVersion()} check-config: ${config.mode} mode; settings from ${source(process.env)}`,
    '',
    'Settings',
    ...table(
      ['SETTING', 'VALUE', 'STATUS'],
      rows.map((row) => [row.name, row.value, statusOf(row)]),
    ),
    '',
    ...section('Problems that name no one setting', unattributed),
    ...section('Warnings', config.warnings),
    ...madeUp(config),
    'Checks',
    ...table(
      ['RESULT', 'WHAT', 'DETAIL'],
      checks.map((check) => [check.status, check.what, check.detail]),
    ),
    '',
    summary(problems.length, checks, config.warnings.length),
  ];
  const failed = problems.length > 0 || checks.some((check) => check.status === 'FAIL');
  // The last net: whatever a message quoted, no secret value that is set leaves this process.
  finish(`${scrub(lines.join('\n'), secretValues(env))}\n`, failed ? 1 : 0);
}

await main().catch((err: Error) => finish(`check-config: ${err.message}\n`, 1, process.stderr));
