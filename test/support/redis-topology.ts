import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { track } from './leftovers.js';
import { assertInstalled, freePort, spawnRedis } from './redis-server.js';
import { exitOf, pollUntil } from './wait.js';

// Real Redis Cluster and Sentinel deployments, started from the redis-server binary (and redis-cli
// --cluster create), each node on free ports in a temporary directory of its own, every process
// and directory tracked (test/support/leftovers.ts) so that a dead worker leaves nothing behind.
// The timeouts are short (a node counts as failed after a second) so that failovers happen within
// a test; production keeps Redis's defaults, see docs/OPERATIONS.md.

const run = promisify(execFile);

/** How long a node may be silent before the others (cluster) or the sentinels count it as failed. */
export const NODE_TIMEOUT_MS = 1000;

/** One redis-server of a topology, on 127.0.0.1. */
export interface TopologyNode {
  readonly port: number;
  /** SIGKILL: the node vanishes as in a crash; it is not restarted. */
  kill(): Promise<void>;
  readonly killed: boolean;
}

interface Started {
  readonly nodes: TopologyNode[];
  readonly stopAll: () => Promise<void>;
}

function killAndWait(child: ChildProcess): Promise<void> {
  if (exitOf(child)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
}

/** A temporary directory for the whole topology, removed (and untracked) by the returned function. */
async function topologyDir(name: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `portero-redis-${name}-`));
  const untrack = track({ kind: 'dir', path: dir, name: `redis ${name}` });
  return {
    dir,
    async remove() {
      await rm(dir, { recursive: true, force: true });
      untrack();
    },
  };
}

/** Starts nodes one by one with `start`; on failure stops those started and rethrows. */
async function startNodes(
  count: number,
  name: string,
  start: (index: number, dir: string) => Promise<ChildProcess & { port: number }>,
): Promise<Started> {
  const { dir, remove } = await topologyDir(name);
  const children: (ChildProcess & { port: number })[] = [];
  const stopAll = async () => {
    await Promise.all(children.map(killAndWait));
    await remove();
  };
  try {
    for (let index = 0; index < count; index++) children.push(await start(index, dir));
  } catch (err) {
    await stopAll();
    throw err;
  }
  const nodes = children.map((child) => ({
    port: child.port,
    get killed() {
      return exitOf(child) !== undefined;
    },
    kill: () => killAndWait(child),
  }));
  return { nodes, stopAll };
}

async function withClient<T>(port: number, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    commandTimeout: 1000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

/** A Redis Cluster: `masters` masters (slots spread by redis-cli), each with `replicas` replicas. */
export interface RedisClusterTopology {
  /** Every node, masters first as created (a failover changes who is master: see `masterPorts`). */
  readonly nodes: readonly TopologyNode[];
  /** REDIS_CLUSTER_NODES naming every node, as an operator would list them. */
  readonly env: { readonly REDIS_CLUSTER_NODES: string };
  /** The ports of the nodes that are masters now, by a live node's CLUSTER NODES. */
  masterPorts(): Promise<number[]>;
  /** Resolves once every slot is served (cluster_state:ok on every live node). */
  untilOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `args` go to every node's command line (an ACL: `--user ...`); `cliArgs` to `redis-cli --cluster
 * create` (`--user`, `--pass` when the default user may not configure the cluster). The harness's own
 * checks use the default user, which needs `info`, `ping`, `hello` and `cluster`.
 */
export async function startRedisCluster(
  options: { masters?: number; replicas?: number; args?: readonly string[]; cliArgs?: readonly string[] } = {},
): Promise<RedisClusterTopology> {
  assertInstalled();
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  const { nodes, stopAll } = await startNodes(masters * (1 + replicas), 'cluster', async (index, dir) => {
    const port = await freePort();
    // The bus port named outright (cluster-port) rather than port + 10000, which could land in
    // the kernel's ephemeral range or in another worker's block of free ports.
    const busPort = await freePort();
    const child = await spawnRedis(port, [
      ...['--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-config-file', join(dir, `nodes-${index}.conf`)],
      ...['--cluster-node-timeout', String(NODE_TIMEOUT_MS), '--cluster-announce-ip', '127.0.0.1', '--dir', dir],
      ...(options.args ?? []),
    ]);
    return Object.assign(child, { port });
  });
  const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
  const topology: RedisClusterTopology = {
    nodes,
    env: { REDIS_CLUSTER_NODES: addresses.join(',') },
    async masterPorts() {
      const live = nodes.find((node) => !node.killed);
      if (!live) return [];
      const text = String(await withClient(live.port, (client) => client.call('CLUSTER', 'NODES')));
      return text
        .split('\n')
        .filter((line) => / (myself,)?master /.test(line) && !/fail/.test(line.split(' ')[2] ?? ''))
        .map((line) => Number(/:(\d+)@/.exec(line)?.[1]));
    },
    async untilOk(timeoutMs = 20_000) {
      await pollUntil(
        async () => {
          const states = await Promise.all(
            nodes
              .filter((node) => !node.killed)
              .map((node) => withClient(node.port, (client) => client.call('CLUSTER', 'INFO')).catch(() => '')),
          );
          return states.every((info) => /cluster_state:ok/.test(String(info)));
        },
        { what: `the cluster on ${addresses.join(',')} to serve every slot`, timeoutMs, intervalMs: 100 },
      );
    },
    stop: stopAll,
  };
  try {
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], {
      timeout: 30_000,
    });
    await topology.untilOk();
    // A replica that has not synced yet cannot take over (its data counts as too old): wait for all.
    await pollUntil(
      async () => {
        const infos = await Promise.all(nodes.map((node) => withClient(node.port, (client) => client.info('replication'))));
        const synced = infos.filter((info) => /^role:slave/m.test(info) && /^master_link_status:up/m.test(info));
        return synced.length === masters * replicas;
      },
      { what: 'every cluster replica to sync with its master', timeoutMs: 20_000, intervalMs: 100 },
    );
  } catch (err) {
    await stopAll();
    throw err;
  }
  return topology;
}

/** A master, its replicas and the sentinels watching them, as group `name`. */
export interface RedisSentinelTopology {
  readonly name: string;
  /** The data nodes: the first master, then the replicas. */
  readonly dataNodes: readonly TopologyNode[];
  readonly sentinels: readonly TopologyNode[];
  /** REDIS_SENTINELS and REDIS_SENTINEL_NAME, as an operator sets them. */
  readonly env: { readonly REDIS_SENTINELS: string; readonly REDIS_SENTINEL_NAME: string };
  /** The port of the master the sentinels name now. */
  masterPort(): Promise<number>;
  stop(): Promise<void>;
}

/** An ACL user for a Sentinel topology's data nodes: what replicas and sentinels authenticate as. */
export interface DataAuth {
  readonly user: string;
  readonly password: string;
  /** The data nodes' command-line ACL (`--user ...`), which must leave the default user info, ping and hello. */
  readonly args: readonly string[];
}

function sentinelConf(name: string, masterPort: number, dir: string, auth: DataAuth | undefined): string {
  return [
    `dir ${dir}`,
    `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
    // After the monitor line, which defines the group they name.
    ...(auth ? [`sentinel auth-user ${name} ${auth.user}`, `sentinel auth-pass ${name} ${auth.password}`] : []),
    `sentinel down-after-milliseconds ${name} ${NODE_TIMEOUT_MS}`,
    `sentinel failover-timeout ${name} 10000`,
    `sentinel parallel-syncs ${name} 1`,
    '',
  ].join('\n');
}

export async function startRedisSentinel(
  options: { replicas?: number; sentinels?: number; auth?: DataAuth } = {},
): Promise<RedisSentinelTopology> {
  const { auth } = options;
  assertInstalled();
  const name = 'portero-test';
  const replicaCount = options.replicas ?? 1;
  let masterPort = 0;
  const data = await startNodes(1 + replicaCount, 'sentinel-data', async (index, dir) => {
    const port = await freePort();
    if (index === 0) masterPort = port;
    const replica = ['--replicaof', '127.0.0.1', String(masterPort), '--replica-announce-ip', '127.0.0.1'];
    const authArgs = auth ? [...auth.args, '--masteruser', auth.user, '--masterauth', auth.password] : [];
    // Its own directory: a replica writes the copy it receives from its master to disk.
    const own = ['--dir', dir, '--dbfilename', `dump-${index}.rdb`];
    const child = await spawnRedis(port, [...own, ...authArgs, ...(index === 0 ? [] : replica)]);
    return Object.assign(child, { port });
  });
  let watchers: Started;
  try {
    // Replicas in sync before the sentinels watch: a failover then has one to promote.
    await pollUntil(
      async () => /master_link_status:up/.test(await withClient(data.nodes[1]?.port ?? masterPort, (client) => client.info('replication'))),
      { what: 'the replica to sync with its master', timeoutMs: 10_000, intervalMs: 100 },
    );
    watchers = await startNodes(options.sentinels ?? 3, 'sentinels', async (index, dir) => {
      const port = await freePort();
      const conf = join(dir, `sentinel-${index}.conf`);
      await writeFile(conf, sentinelConf(name, masterPort, dir, auth));
      const child = await spawnRedis(port, ['--sentinel'], conf);
      return Object.assign(child, { port });
    });
  } catch (err) {
    await data.stopAll();
    throw err;
  }
  const topology: RedisSentinelTopology = {
    name,
    dataNodes: data.nodes,
    sentinels: watchers.nodes,
    env: { REDIS_SENTINELS: watchers.nodes.map((node) => `127.0.0.1:${node.port}`).join(','), REDIS_SENTINEL_NAME: name },
    async masterPort() {
      const live = watchers.nodes.find((node) => !node.killed);
      if (!live) throw new Error('every sentinel is down');
      const reply = await withClient(live.port, (client) => client.call('SENTINEL', 'get-master-addr-by-name', name));
      return Number((reply as string[])[1]);
    },
    async stop() {
      await watchers.stopAll();
      await data.stopAll();
    },
  };
  try {
    // Every sentinel knows the others and the replica, so that a quorum can elect a leader.
    await pollUntil(
      async () => {
        const views = await Promise.all(
          watchers.nodes.map((node) => withClient(node.port, (client) => client.call('SENTINEL', 'master', name)).catch(() => [])),
        );
        return views.every((view) => {
          const fields = view as string[];
          const get = (key: string) => Number(fields[fields.indexOf(key) + 1]);
          return get('num-other-sentinels') === watchers.nodes.length - 1 && get('num-slaves') === replicaCount;
        });
      },
      { what: 'the sentinels to know each other and the replicas', timeoutMs: 15_000, intervalMs: 200 },
    );
  } catch (err) {
    await topology.stop();
    throw err;
  }
  return topology;
}
