import { ConfigError, parseConfig } from '../../src/config/parse.js';
import type { ProviderRegistry } from '../../src/providers/index.js';

/** The problems start-up reports for these variables, all at once; none when it starts. */
export function startupProblems(env: Record<string, string>, registry?: ProviderRegistry): readonly string[] {
  try {
    parseConfig(env, registry);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

/** The problems start-up reports for these variables; fails the test when it accepts them. */
export function refusedProblems(env: Record<string, string>): readonly string[] {
  const problems = startupProblems(env);
  if (problems.length === 0) throw new Error('parseConfig accepted the environment');
  return problems;
}
