import type { ChildProcess } from 'node:child_process';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface PollOptions {
  /** What is awaited, for the error: `http://127.0.0.1:1234/healthz to answer 200`. */
  readonly what: string;
  readonly timeoutMs: number;
  /** Between attempts; 50 ms by default. */
  readonly intervalMs?: number;
  /** Asked before every attempt: a reason to give up at once (`nginx exited (code 1)`), or undefined to go on. */
  readonly giveUp?: () => string | undefined;
}

/**
 * Calls `attempt` until it returns something truthy, and returns that. Rejects when `giveUp` gives
 * a reason, or once `timeoutMs` has passed; an attempt that throws rejects at once.
 */
export async function pollUntil<T>(attempt: () => T | Promise<T>, options: PollOptions): Promise<NonNullable<T>> {
  const { what, timeoutMs, intervalMs = 50, giveUp } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = giveUp?.();
    if (reason) throw new Error(`${reason} while waiting for ${what}`);
    const result = await attempt();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** How `child` ended (`code 1`, `signal SIGKILL`), or undefined while it runs. */
export function exitOf(child: ChildProcess): string | undefined {
  if (child.exitCode !== null) return `code ${child.exitCode}`;
  if (child.signalCode !== null) return `signal ${child.signalCode}`;
  return undefined;
}

/**
 * Polls `answers` until it is true, giving up should `child` (called `name` in errors) exit first.
 * The port was free when freePort() looked, not bound: another server may have taken it since and
 * answered instead. So after the answer `child` must still run, and `isOwn` (when given: the pid
 * file nginx writes, the process id Redis reports) must say the answer was its own.
 */
export async function untilChildAnswers(
  child: ChildProcess,
  name: string,
  answers: () => Promise<boolean>,
  options: Omit<PollOptions, 'giveUp'> & { isOwn?: () => Promise<boolean> },
): Promise<void> {
  const exited = () => {
    const exit = exitOf(child);
    return exit && `${name} exited (${exit})`;
  };
  await pollUntil(answers, { ...options, giveUp: exited });
  const exit = exitOf(child);
  if (exit)
    throw new Error(`another server answered while waiting for ${options.what}: ${name} exited (${exit}), as when it cannot bind the port`);
  if ((await options.isOwn?.()) === false)
    throw new Error(`another server answered while waiting for ${options.what}: not ${name} (pid ${child.pid})`);
}
