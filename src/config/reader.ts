import type { Env } from './env.js';

/** Every problem found in the configuration, reported together so an operator fixes them in one go. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads variables and records what is wrong with them, so that parsing goes on and reports every problem. */
export class EnvReader {
  readonly env: Env;
  readonly problems: string[] = [];
  /** Every variable asked for: the settings, for telling a misspelt one from a platform's own (`misspelledSettings`). */
  readonly names = new Set<string>();

  constructor(env: Env) {
    this.env = env;
  }

  problem(message: string): void {
    this.problems.push(message);
  }

  /** The value as set, untrimmed (a secret's own spaces count); undefined when unset. */
  raw(name: string): string | undefined {
    this.names.add(name);
    return this.env[name];
  }

  /** The trimmed value; undefined when unset or empty. */
  text(name: string): string | undefined {
    return this.raw(name)?.trim() || undefined;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problem(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return value;
  }

  /** `true` or `false` (any case); `fallback` when unset. */
  boolean(name: string, fallback: boolean): boolean {
    const raw = this.text(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    this.problem(`${name} must be true or false, got ${JSON.stringify(this.text(name))}`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.text(name) ?? fallback;
    if (allowed.includes(raw as T)) return raw as T;
    this.problem(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
    return fallback;
  }
}
