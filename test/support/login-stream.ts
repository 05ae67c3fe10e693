import type { TestApp } from './app.js';
import { TestBrowser } from './browser.js';
import type { MockOidcProvider } from './mock-oidc.js';
import { sleep } from './wait.js';

const GATEWAY = 'https://gateway.test';
const RETURN_TO = 'https://app.example.com/home';
/** A leg that has not answered by then hangs, as a user sees it. */
const HANG_MS = 5000;

/**
 * How one login ended, as the person signing in sees it: `completed` (back at the app with a
 * token), `start again` (the clean answers: a 503 "temporarily unavailable" page at either leg, or
 * the callback's "sign-in expired, sign in again" when the flow was lost with a failed master), or
 * anything else (`bad`: a 500, another status, a hang), which is a defect.
 */
export interface LoginOutcome {
  readonly kind: 'completed' | 'start again' | 'bad';
  /** `login 503`, `callback 400`, `callback hung`... */
  readonly detail: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** Resolves with the response, or with 'hung' after HANG_MS. */
async function within(response: Promise<Response>): Promise<Response | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), HANG_MS)));
  try {
    return await Promise.race([response, hung]);
  } finally {
    clearTimeout(timer);
  }
}

function judge(leg: 'login' | 'callback', response: Response | 'hung'): Omit<LoginOutcome, 'startedAt' | 'endedAt'> {
  if (response === 'hung') return { kind: 'bad', detail: `${leg} hung` };
  const clean = response.status === 503 || (leg === 'callback' && response.status === 400);
  return { kind: clean ? 'start again' : 'bad', detail: `${leg} ${response.status}` };
}

/** One person's login: /login on `first`, the provider, /callback on `second` (two instances behind a balancer). */
async function loginOnce(idp: MockOidcProvider, first: TestApp, second: TestApp, user: string): Promise<LoginOutcome> {
  const startedAt = Date.now();
  const browser = new TestBrowser();
  const ended = (outcome: Omit<LoginOutcome, 'startedAt' | 'endedAt'>) => ({ ...outcome, startedAt, endedAt: Date.now() });
  const login = await within(browser.get(first.app, `${GATEWAY}/login/corp?return_to=${encodeURIComponent(RETURN_TO)}`));
  if (login === 'hung' || login.status !== 302) return ended(judge('login', login));
  const params = idp.authorize(login.headers.get('location') ?? '', {
    sub: user,
    claims: { email: `${user}@example.com`, email_verified: true },
  });
  const done = await within(browser.get(second.app, `${GATEWAY}/callback/corp?${params}`));
  if (done !== 'hung' && done.status === 302 && done.headers.get('location') === RETURN_TO) {
    const token = await browser.cookie(GATEWAY, '__Host-auth_token');
    if (token) return ended({ kind: 'completed', detail: 'completed' });
  }
  return ended(judge('callback', done));
}

/** A steady stream of logins through two instances, `workers` at a time, until stopped. */
export interface LoginStream {
  readonly outcomes: readonly LoginOutcome[];
  /** Stops starting logins; resolves once those in flight have ended. */
  stop(): Promise<void>;
}

export function startLoginStream(idp: MockOidcProvider, instances: readonly [TestApp, TestApp], workers = 3): LoginStream {
  const outcomes: LoginOutcome[] = [];
  let running = true;
  let count = 0;
  const worker = async (index: number) => {
    while (running) {
      const n = count++;
      // Alternating which instance starts and which finishes, as a round-robin balancer does.
      const [first, second] = n % 2 === 0 ? instances : ([instances[1], instances[0]] as const);
      outcomes.push(await loginOnce(idp, first, second, `user-${index}-${n}`));
      await sleep(20);
    }
  };
  const all = Promise.all(Array.from({ length: workers }, (_, index) => worker(index)));
  return {
    outcomes,
    async stop() {
      running = false;
      await all;
    },
  };
}
