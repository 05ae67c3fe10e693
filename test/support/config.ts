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
