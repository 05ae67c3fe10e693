import { appendFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { inject } from 'vitest';
import { pollUntil } from './wait.js';

// What the tests start that must not outlive the run. A test worker that dies (a crash, a SIGKILL,
// a fork killed on a timeout) runs no afterAll: the process groups it spawned detached (gateways,
// nginx) and its redis-server live on with PPID 1, and its temporary directories stay. So every
// start helper records what it started in this run's file, one JSON line appended per event (small
// appends with O_APPEND stay whole lines, even from several forks at once), and records its end
// when it stops it. test/global-setup.ts creates the file's name, passes it to the workers
// (`provide`, read here with `inject`) and, once every test file is done, calls removeLeftovers().

/**
 * Something started for the run: a process group (spawned detached, `pid` its leader's), one
 * process, or a directory. `since`, the process's start time, tells it from a later process the
 * kernel gave the same pid (with pid_max at 32768, a run goes through thousands).
 */
export type Leftover =
  | { readonly kind: 'group' | 'process'; readonly pid: number; readonly name: string; readonly since?: string }
  | { readonly kind: 'dir'; readonly path: string; readonly name: string };

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's file of started programs and directories (see test/support/leftovers.ts). */
    porteroRunFile: string;
  }
}

const keyOf = (item: Leftover) => (item.kind === 'dir' ? `dir ${item.path}` : `${item.kind} ${item.pid}`);

/** From Linux's /proc/<pid>/stat: the state (`Z` for a zombie), process group and start time; undefined once gone. */
function procStat(pid: string | number): { state: string; pgrp: number; since: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // `pid (comm) state ppid pgrp ... starttime (the 22nd) ...`; comm may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, pgrp: Number(fields[2]), since: fields[19]! };
}

/**
 * Records `item` in the run's file (or `file`); the function returned records that it is gone: call
 * it once the process has exited, the group is empty, the directory removed. Outside a vitest run
 * with test/global-setup.ts (no file provided), records nothing.
 */
export function track(item: Leftover, file: string | undefined = inject('porteroRunFile')): () => void {
  if (!file) return () => {};
  const since = item.kind === 'dir' ? undefined : procStat(item.pid)?.since;
  appendFileSync(file, `${JSON.stringify({ started: true, ...item, since })}\n`);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    appendFileSync(file, `${JSON.stringify({ started: false, ...item })}\n`);
  };
}

/** What `file` lists as started and not ended, oldest first. */
function stillThere(file: string): Leftover[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return []; // Nothing was ever started.
  }
  const open = new Map<string, Leftover>();
  for (const line of text.split('\n').filter(Boolean)) {
    const { started, ...item } = JSON.parse(line) as Leftover & { started: boolean };
    if (started) open.set(keyOf(item), item);
    else open.delete(keyOf(item));
  }
  return [...open.values()];
}

type ProcessItem = Extract<Leftover, { kind: 'group' | 'process' }>;

/**
 * Whether a process of `items` (a process, or a member of a group) still runs, from Linux's /proc.
 * A zombie, dead but not yet reaped by its new parent, does not count: it writes no more files.
 */
function anyRunning(items: readonly ProcessItem[]): boolean {
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const stat = procStat(entry);
    if (!stat || stat.state === 'Z') continue; // Ended while we looked, or a zombie.
    if (items.some((item) => (item.kind === 'group' ? stat.pgrp : Number(entry)) === item.pid)) return true;
  }
  return false;
}

/**
 * Whether `item`'s pid still names what was started. A pid now held by a later process is not;
 * one held by none may still lead a group whose members live on (the kernel reuses no pid that
 * still names a group), so signalling it reaches them, or no one.
 */
function samePid(item: ProcessItem): boolean {
  const now = procStat(item.pid);
  return !now || item.since === undefined || now.since === item.since;
}

/**
 * SIGKILL to every process group and process `file` still lists; once they are gone (2 s at most),
 * removes its directories and the file itself. Returns what it found, for a warning: after a
 * normal run, nothing.
 */
export async function removeLeftovers(file: string): Promise<Leftover[]> {
  const left = stillThere(file).filter((item) => item.kind === 'dir' || samePid(item));
  const processes = left.filter((item): item is ProcessItem => item.kind !== 'dir');
  for (const item of processes) {
    try {
      // A negative pid signals the whole group: a gateway, or npm and what it runs; nginx's master and workers.
      process.kill(item.kind === 'group' ? -item.pid : item.pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  // Processes first: nginx and Chromium write into their directories until they are gone.
  const gone = () => !anyRunning(processes);
  await pollUntil(gone, { what: 'the killed processes to end', timeoutMs: 2000, intervalMs: 20 }).catch(() => {}); // Remove the rest anyway.
  for (const item of left) if (item.kind === 'dir') rmSync(item.path, { recursive: true, force: true });
  rmSync(file, { force: true });
  return left;
}

/** One line for a warning: `process group 1234 (node dist/main.js)`. */
export function describeLeftover(item: Leftover): string {
  return item.kind === 'dir'
    ? `directory ${item.path} (${item.name})`
    : `${item.kind === 'group' ? 'process group' : 'process'} ${item.pid} (${item.name})`;
}
