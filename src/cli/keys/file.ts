import { chmod, link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import type { JWK } from 'jose';
import type { PorteroAlgorithm } from '../../shared/algorithms.js';
import { loadKeyFile } from '../../tokens/keys.js';
import { fail } from './plan.js';

/** The keys of the file at `path`, or undefined when there is none; a file that is not a JWKS is refused. */
export async function readExisting(path: string): Promise<JWK[] | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let keys: unknown;
  try {
    keys = (JSON.parse(text) as { keys?: unknown } | null)?.keys;
  } catch (err) {
    fail(`${path} is not JSON (${(err as Error).message}); not rotating it`);
  }
  if (!Array.isArray(keys)) fail(`${path} is not a JWKS ({"keys": [...]}); not rotating it`);
  return keys as JWK[];
}

/**
 * Writes a private temporary file beside the target, checks it loads as portero will load it,
 * then moves it into place: a failed run never leaves a half-written or unloadable key file, and
 * a portero watching the file reads it once, whole.
 */
export async function write(out: string, kept: readonly JWK[], signingAlg: PorteroAlgorithm, replace: boolean): Promise<void> {
  const temporary = `${out}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ keys: kept }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await chmod(temporary, 0o600); // the mode given above is only a request, narrowed by umask
    await loadKeyFile(temporary, signingAlg);
    if (replace) await rename(temporary, out);
    else await link(temporary, out); // fails rather than overwrite a file created meanwhile
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}
