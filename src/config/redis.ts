import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { EnvReader } from './reader.js';
import type { HostPort, RedisConfig, RedisTls, RedisTopology } from './types.js';

/** The variable that names each topology; exactly one may be set. */
const TOPOLOGY_VARIABLES = { standalone: 'REDIS_URL', sentinel: 'REDIS_SENTINELS', cluster: 'REDIS_CLUSTER_NODES' } as const;

/** `host:port,host:port`: a list of addresses, each problem reported by position. */
function hostPorts(reader: EnvReader, name: string, raw: string): HostPort[] {
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  const parsed: HostPort[] = [];
  for (const [index, entry] of entries.entries()) {
    // `[::1]:6379` for an IPv6 address; anything else is host:port.
    const match = /^(?:\[([0-9a-f:.]+)\]|([^:\s/@[\]]+)):(\d{1,5})$/i.exec(entry);
    const port = Number(match?.[3]);
    if (!match || port < 1 || port > 65535) {
      // An entry with credentials is never quoted: the problem is printed at start-up and by check-config.
      const got = entry.includes('@')
        ? 'one with credentials (user:password@, not shown): set REDIS_USERNAME and REDIS_PASSWORD'
        : JSON.stringify(entry);
      reader.problem(`${name} entry ${index + 1} must be host:port (a port from 1 to 65535), got ${got}`);
      continue;
    }
    parsed.push({ host: match[1] ?? match[2] ?? '', port });
  }
  if (entries.length === 0) reader.problem(`${name} must list at least one host:port`);
  return parsed;
}

/** REDIS_URL's user name and password, decoded; a problem, never quoting them, when they are no valid percent-encoding. */
function urlCredentials(reader: EnvReader, url: URL): { username?: string | undefined; password?: string | undefined } | undefined {
  try {
    return { username: decodeURIComponent(url.username) || undefined, password: decodeURIComponent(url.password) || undefined };
  } catch {
    reader.problem('REDIS_URL: its user name or password is not valid percent-encoding (a % must start %XX: write %25 for a % of its own)');
    return undefined;
  }
}

/**
 * REDIS_URL: `redis://` or `rediss://`, optional `user:password@` (percent-encoded), port and `/db`.
 * Its credentials, when it has any, win over REDIS_USERNAME and REDIS_PASSWORD.
 */
function standalone(reader: EnvReader, raw: string): Chosen | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    reader.problem('REDIS_URL must be a URL like redis://host:6379 or rediss://user:password@host:6380/0');
    return undefined;
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    reader.problem('REDIS_URL must start with redis:// or rediss://');
    return undefined;
  }
  const db = url.pathname.replace(/^\//, '');
  if (db && !/^\d{1,2}$/.test(db)) reader.problem('REDIS_URL may end only in a database number (/0 to /99)');
  if (!url.hostname) reader.problem('REDIS_URL must name a host');
  const credentials = url.username || url.password ? urlCredentials(reader, url) : undefined;
  return {
    topology: {
      kind: 'standalone',
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port ? Number(url.port) : 6379,
      db: db ? Number(db) : 0,
    },
    tls: url.protocol === 'rediss:',
    ...(credentials ? { credentials } : {}),
  };
}

/** The topology, and what a standalone URL says for itself: TLS (rediss://) and credentials. */
interface Chosen {
  readonly topology: RedisTopology;
  readonly tls?: boolean;
  readonly credentials?: { readonly username?: string | undefined; readonly password?: string | undefined };
}

/** The topology the environment names, or undefined (memory); a clash is reported, naming the variables. */
function topology(reader: EnvReader): Chosen | undefined {
  const url = reader.text('REDIS_URL');
  const sentinels = reader.text('REDIS_SENTINELS');
  const sentinelName = reader.text('REDIS_SENTINEL_NAME');
  // Passwords as given, spaces included.
  const sentinelPassword = reader.raw('REDIS_SENTINEL_PASSWORD') || undefined;
  const nodes = reader.text('REDIS_CLUSTER_NODES');
  const set = Object.entries({ standalone: url, sentinel: sentinels, cluster: nodes }).filter(([, value]) => value !== undefined);
  if (set.length > 1) {
    const names = set.map(([kind]) => TOPOLOGY_VARIABLES[kind as keyof typeof TOPOLOGY_VARIABLES]);
    reader.problem(
      `set only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES, not ${names.join(' and ')}: they name different Redis deployments`,
    );
    return undefined;
  }
  if (!sentinels && (sentinelName || sentinelPassword)) {
    reader.problem(`${sentinelName ? 'REDIS_SENTINEL_NAME' : 'REDIS_SENTINEL_PASSWORD'} is set without REDIS_SENTINELS`);
  }
  if (url) return standalone(reader, url);
  if (sentinels) {
    if (!sentinelName)
      reader.problem('REDIS_SENTINELS needs REDIS_SENTINEL_NAME, the master group the sentinels monitor (as in sentinel.conf)');
    const list = hostPorts(reader, 'REDIS_SENTINELS', sentinels);
    return { topology: { kind: 'sentinel', sentinels: list, name: sentinelName ?? '', ...(sentinelPassword ? { sentinelPassword } : {}) } };
  }
  if (nodes) return { topology: { kind: 'cluster', nodes: hostPorts(reader, 'REDIS_CLUSTER_NODES', nodes) } };
  return undefined;
}

/** A PEM file's text, or undefined with a problem naming the variable (never the contents). */
function pemFile(reader: EnvReader, name: string): string | undefined {
  const path = reader.text(name);
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    reader.problem(`${name} names ${path}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return undefined;
  }
}

/** Whether `check` accepts `text`; a problem naming `name` otherwise. */
function valid(reader: EnvReader, name: string, text: string, what: string, check: (text: string) => unknown): boolean {
  try {
    check(text);
    return true;
  } catch {
    reader.problem(`${name} must hold ${what} (PEM)`);
    return false;
  }
}

/**
 * REDIS_TLS_CA, REDIS_TLS_CERT and REDIS_TLS_KEY: files read and checked now, so a wrong path or a
 * key that does not match its certificate stops start-up instead of every connection.
 */
function tlsFiles(reader: EnvReader): Omit<RedisTls, 'enabled'> {
  const ca = pemFile(reader, 'REDIS_TLS_CA');
  const cert = pemFile(reader, 'REDIS_TLS_CERT');
  const key = pemFile(reader, 'REDIS_TLS_KEY');
  if (ca) valid(reader, 'REDIS_TLS_CA', ca, 'one or more CA certificates', (text) => new X509Certificate(text));
  const certOk = cert !== undefined && valid(reader, 'REDIS_TLS_CERT', cert, 'a certificate', (text) => new X509Certificate(text));
  const keyOk = key !== undefined && valid(reader, 'REDIS_TLS_KEY', key, 'a private key', (text) => createPrivateKey(text));
  if (reader.text('REDIS_TLS_CERT') && !reader.text('REDIS_TLS_KEY')) reader.problem('REDIS_TLS_CERT needs REDIS_TLS_KEY, its private key');
  if (reader.text('REDIS_TLS_KEY') && !reader.text('REDIS_TLS_CERT')) reader.problem('REDIS_TLS_KEY needs REDIS_TLS_CERT, its certificate');
  if (certOk && keyOk && !new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) {
    reader.problem('REDIS_TLS_KEY is not the private key of REDIS_TLS_CERT');
  }
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

/**
 * TLS to the data nodes: `rediss://` for standalone, REDIS_TLS=true for Sentinel and Cluster (which
 * have no URL to say it). Certificate files without TLS would be ignored silently, so they are refused.
 */
function tls(reader: EnvReader, chosen: Chosen | undefined): RedisTls {
  const files = tlsFiles(reader);
  const flag = reader.boolean('REDIS_TLS', false);
  const isStandalone = chosen?.topology.kind === 'standalone';
  if (isStandalone && reader.text('REDIS_TLS') !== undefined) {
    reader.problem('REDIS_TLS is for REDIS_SENTINELS and REDIS_CLUSTER_NODES; with REDIS_URL, rediss:// turns TLS on');
  }
  const enabled = isStandalone ? chosen?.tls === true : flag;
  const named = Object.keys(files).map((part) => `REDIS_TLS_${part.toUpperCase()}`);
  if (!enabled && named.length > 0) {
    const how = isStandalone ? 'a rediss:// REDIS_URL' : chosen ? 'REDIS_TLS=true' : 'a Redis to connect to';
    reader.problem(`${named.join(', ')} ${named.length > 1 ? 'are' : 'is'} set, but TLS is off: they need ${how}`);
  }
  return { enabled, ...files };
}

/** The Redis part of the configuration: which deployment, how to authenticate and encrypt, and how to wait for it. */
export function redis(reader: EnvReader): RedisConfig {
  const chosen = topology(reader);
  const username = reader.text('REDIS_USERNAME');
  const password = reader.raw('REDIS_PASSWORD') || undefined;
  // Standalone: a URL with credentials of its own keeps them; otherwise REDIS_USERNAME and REDIS_PASSWORD.
  const credentials = chosen?.credentials ?? { username, password };
  if (!chosen && (username || password))
    reader.problem(`${username ? 'REDIS_USERNAME' : 'REDIS_PASSWORD'} is set without a Redis to use it on`);
  const tlsConfig = tls(reader, chosen);
  return {
    ...(chosen ? { topology: chosen.topology } : {}),
    ...(credentials.username ? { username: credentials.username } : {}),
    ...(credentials.password ? { password: credentials.password } : {}),
    tls: tlsConfig,
    startupWait: reader.integer('REDIS_STARTUP_WAIT', 5, 0, 60),
    allowEviction: reader.boolean('REDIS_ALLOW_EVICTION', false),
  };
}
