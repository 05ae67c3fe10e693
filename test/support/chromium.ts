import { existsSync } from 'node:fs';
import { mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { track } from './leftovers.js';

export const CHROMIUM = '/usr/bin/chromium';

const MISSING = `${CHROMIUM} is not installed: the browser test drives a real Chromium. Install Debian package "chromium" (apt-get install chromium).`;

/** A headless Chromium with one fresh browser context (cookies, storage) of its own. */
export interface Chromium {
  readonly context: BrowserContext;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/**
 * The process id of the Chromium running on `profile`, from the lock it keeps there
 * (`SingletonLock`, a symbolic link to `<host>-<pid>`); undefined without one.
 */
async function chromiumPid(profile: string): Promise<number | undefined> {
  const lock = await readlink(join(profile, 'SingletonLock')).catch(() => '');
  const pid = Number(/-(\d+)$/.exec(lock)?.[1]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Debian's Chromium, driven by playwright-core, with its profile and playwright's artifacts in one
 * temporary directory of the test's own. Both are recorded in the run's file
 * (test/support/leftovers.ts): the directory, and Chromium's process group (playwright starts it
 * detached), which should the test worker die would go on writing its profile while it shuts down.
 */
export async function launchChromium(
  options: {
    viewport?: { width: number; height: number };
    javaScriptEnabled?: boolean;
    /** For a server of the test's own with a self-signed certificate. */
    ignoreHTTPSErrors?: boolean;
  } = {},
): Promise<Chromium> {
  if (!existsSync(CHROMIUM)) throw new Error(MISSING);
  const dir = await mkdtemp(join(tmpdir(), 'portero-chromium-'));
  const untrack = track({ kind: 'dir', path: dir, name: 'Chromium profile' });
  const remove = async () => {
    await rm(dir, { recursive: true, force: true });
    untrack();
  };
  try {
    const profile = join(dir, 'profile');
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      artifactsDir: join(dir, 'artifacts'),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
      ...options,
    });
    const pid = await chromiumPid(profile);
    const untrackGroup = pid === undefined ? () => {} : track({ kind: 'group', pid, name: 'Chromium' });
    return {
      context,
      async close() {
        try {
          await context.close();
          untrackGroup();
        } finally {
          await remove();
        }
      },
    };
  } catch (err) {
    await remove();
    throw err;
  }
}
