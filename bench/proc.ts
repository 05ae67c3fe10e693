/**
 * What the kernel says about CPU and memory, read from /proc (Linux): the CPU time of one process
 * (all its threads, user and system), of the whole machine, and a process's resident memory.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Clock ticks per second of /proc's times (USER_HZ): 100 on every Linux the bench runs on. */
const TICK_MS = 10;

/** CPU milliseconds `pid` has used so far, all threads, user and system; 0 once it is gone. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** The machine's CPU milliseconds so far: busy (user, nice, system) and all (busy, idle, iowait, irq, softirq, steal). */
export function machineCpuMs(): { busy: number; all: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user = 0, nice = 0, system = 0, ...rest] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = user + nice + system;
  return { busy: busy * TICK_MS, all: (busy + rest.reduce((sum, ticks) => sum + ticks, 0)) * TICK_MS };
}

/** Resident memory of `pid` in bytes (VmRSS), or undefined once it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

export const cores = () => cpus().length;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Cores' worth of CPU the machine used over the next `ms`, besides the CPU of `ours` (pids; this process included). */
export async function otherCoresOver(ms: number, ours: readonly number[]): Promise<number> {
  const watch = startWatch(ours);
  await sleep(ms);
  return watch.stop().otherCores;
}

/**
 * Starts counting CPU: the machine's, and that of each of `ours` (this process is always counted
 * as ours). `stop()` says how many cores' worth the others used meanwhile, on average.
 */
export function startWatch(ours: readonly number[]) {
  const pids = [process.pid, ...ours];
  const startedAt = performance.now();
  const machine = machineCpuMs();
  const own = pids.map(processCpuMs);
  return {
    stop() {
      const elapsed = performance.now() - startedAt;
      const busy = machineCpuMs().busy - machine.busy;
      const ourMs = pids.reduce((sum, pid, i) => sum + Math.max(0, processCpuMs(pid) - (own[i] ?? 0)), 0);
      return { elapsedMs: elapsed, otherCores: Math.max(0, busy - ourMs) / elapsed };
    },
  };
}

/**
 * Waits, at most `maxMs`, until a whole second passes during which other processes than `ours`
 * used less than `threshold` cores. Returns what the last second measured (above the threshold
 * when the wait ran out).
 */
export async function waitForQuiet(ours: readonly number[], options: { threshold: number; maxMs: number }): Promise<number> {
  const deadline = performance.now() + options.maxMs;
  let other = await otherCoresOver(1000, ours);
  while (other >= options.threshold && performance.now() < deadline) other = await otherCoresOver(1000, ours);
  return other;
}
