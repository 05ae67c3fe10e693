import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The process environment, over the variables of a `.env` file when one exists
 * (`ENV_FILE` names another). Real environment variables win, as with docker and systemd.
 * A named `ENV_FILE` that does not exist is an error; a missing default `.env` is not.
 */
export function readEnv(processEnv: Env = process.env, cwd = process.cwd()): Env {
  const named = processEnv.ENV_FILE?.trim() || undefined;
  const path = resolve(cwd, named ?? '.env');
  if (!existsSync(path)) {
    if (named) throw new Error(`ENV_FILE names ${path}, which does not exist`);
    return processEnv;
  }
  if (statSync(path).isDirectory()) {
    // docker mounts an empty directory where a bind-mounted file is missing (compose.yaml's .env).
    throw new Error(
      `${named ? 'ENV_FILE' : '.env'} at ${path} is a directory, not a file (a missing file that docker mounted as a directory?)`,
    );
  }
  const fromFile = parseEnv(readFileSync(path, 'utf8'));
  return { ...fromFile, ...processEnv };
}
