import { type JWK, importJWK, SignJWT } from 'jose';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchChromium, type Chromium } from '../support/chromium.js';
import { OP_ACCOUNTS } from '../support/oidc-op.js';
import { type OpAppsStack, startOpApps } from '../support/op-apps.js';
import { runPython } from '../support/python.js';
import { generateKeyJwk } from '../../src/tokens/keys.js';

// The headline of issue 11, with clients nobody here wrote: two teams' apps on other sites sign in
// through portero as their OpenID Provider, each run from examples/apps as its team would run it.
// Billing is Python's Authlib, a confidential client on `localhost`; Wiki is openid-client, a
// public client with PKCE on 127.0.0.2; portero (a gateway process on Redis) is on 127.0.0.1 in
// front of a real upstream OpenID provider. A person in the real Chromium signs in to Billing at
// the upstream, then to Wiki without seeing the upstream again, then signs out of Billing, and
// Wiki, told by back-channel, shows her signed out.

let stack: OpAppsStack;
let browser: Chromium;
let context: BrowserContext;
let page: Page;

const ALICE = { sub: 'corp:alice', ...OP_ACCOUNTS.alice! };
const SIGNED_IN = `Signed in as ${ALICE.sub} (${ALICE.email})`;

/** The page's heading, once it reads `text`: on a slow machine a page may take its time. */
const expectHeading = (text: string) => page.getByRole('heading', { name: text, exact: true }).waitFor();

/** Every address the browser requests from now on (each hop of a redirect too), until `stop`. */
function recordRequests(): { urls: string[]; stop(): void } {
  const urls: string[] = [];
  const onRequest = (request: { url(): string }) => urls.push(request.url());
  context.on('request', onRequest);
  return { urls, stop: () => context.off('request', onRequest) };
}

const origins = (urls: readonly string[]) => [...new Set(urls.map((url) => new URL(url).origin))];

/** The portero sid the app's log says it signed her in with (from the ID token it validated). */
async function sidSignedIn(app: OpAppsStack['billing']): Promise<string> {
  return (await app.printed(new RegExp(`^signed in ${ALICE.sub} \\(sid (\\S+)\\)$`, 'm'), 'that it signed her in'))[1]!;
}

describe('apps on other sites, signed in through portero as their OpenID Provider', () => {
  // Should the stack or the browser not start, every test fails with the reason rather than being skipped.
  let startFailure: unknown;
  beforeAll(async () => {
    const [started, launched] = await Promise.allSettled([startOpApps(), launchChromium({ viewport: { width: 1000, height: 800 } })]);
    if (started.status === 'fulfilled') stack = started.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    const failure = [started, launched].find((result) => result.status === 'rejected');
    if (failure) {
      startFailure = failure.reason;
      return;
    }
    context = browser.context;
    // Generous: two cores shared with other test files, Chromium and five processes of this one.
    context.setDefaultTimeout(30_000);
    page = context.pages()[0] ?? (await context.newPage());
  }, 120_000);
  beforeEach(() => {
    if (startFailure) throw startFailure;
  });
  afterAll(async () => {
    const stopped = await Promise.allSettled([browser?.close(), stack?.stop()]);
    for (const result of stopped) if (result.status === 'rejected') throw result.reason;
  });

  it('Billing (Authlib) signs her in at the upstream, Wiki (openid-client) then without it, and signing out of Billing signs her out of Wiki by back-channel', async () => {
    const { billing, wiki, portero, upstream } = stack;

    // 1. Billing: she is signed out; "Sign in" leads through portero to the upstream's own sign-in page.
    await page.goto(`${billing.url}/`);
    await expectHeading('Signed out');
    const first = recordRequests();
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.origin === upstream.issuer);
    await expectHeading('Sign in to Corp');
    await page.getByPlaceholder('User name').fill('alice');
    await page.getByPlaceholder('Password').fill(ALICE.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectHeading('Authorize');
    await page.getByRole('button', { name: 'Continue' }).click();
    // Back on Billing, which exchanged the code, validated the ID token and read userinfo.
    await page.waitForURL(`${billing.url}/`);
    await expectHeading(SIGNED_IN);
    expect(await page.getByText(`Name: ${ALICE.name}`).count()).toBe(1);
    first.stop();
    expect(origins(first.urls)).toEqual(expect.arrayContaining([portero, upstream.issuer, billing.url]));
    const sid = await sidSignedIn(billing);

    // 2. Wiki, another site: single sign-on. Its code comes from portero, and the browser never goes near the upstream.
    await page.goto(`${wiki.url}/`);
    await expectHeading('Signed out');
    const second = recordRequests();
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.waitForURL(`${wiki.url}/`);
    await expectHeading(SIGNED_IN);
    expect(await page.getByText(`Name: ${ALICE.name}`).count()).toBe(1);
    second.stop();
    expect(second.urls.some((url) => url.startsWith(`${portero}/authorize?`))).toBe(true);
    expect(origins(second.urls), 'the browser went to the upstream provider during Wiki’s sign-in').not.toContain(upstream.issuer);
    // One session: Wiki's ID token names the same portero session as Billing's.
    expect(await sidSignedIn(wiki)).toBe(sid);
    // Each app called userinfo with its access token, and exchanged one code.
    const served = (path: string) => stack.gateway.logLines().filter((line) => line.path === path && line.status === 200).length;
    expect({ token: served('/token'), userinfo: served('/userinfo') }).toEqual({ token: 2, userinfo: 2 });
    // No cookie of portero's reaches either app: they are other sites.
    for (const app of [billing, wiki]) {
      const names = (await context.cookies(app.url)).map((cookie) => cookie.name);
      expect(
        names.filter((name) => name === 'auth_token' || name.startsWith('portero_')),
        app.url,
      ).toEqual([]);
    }

    // 3. She signs out of Billing: portero asks (naming Billing), and its button signs her out of portero and every app.
    await page.goto(`${billing.url}/`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.origin === portero);
    await expectHeading('Sign out?');
    expect(await page.getByText('You asked to sign out from Billing.').count()).toBe(1);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${billing.url}/`);
    await expectHeading('Signed out');
    expect((await context.cookies(portero)).map((cookie) => cookie.name)).not.toContain('auth_token');

    // 4. Wiki was sent a logout token, verified it (portero's key, iss, aud, event, the sid of its ID token), and ended her session.
    await wiki.printed(new RegExp(`^back-channel logout of sid ${sid}: 1 session\\(s\\) ended$`, 'm'), 'that it ended her session');
    await page.goto(`${wiki.url}/`);
    await expectHeading('Signed out');
  }, 180_000);

  it('the apps take no token that is not theirs, even one signed with portero’s own key', async () => {
    const { billing, wiki, portero, rsaKey } = stack;
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}, key: JWK = rsaKey) =>
      importJWK(key, 'RS256').then((privateKey) =>
        new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: rsaKey.kid!, typ: 'JWT', ...header }).sign(privateKey),
      );

    // Billing's ID token validation (examples/apps/authlib_app.py's own function, on portero's live
    // discovery and JWKS): a good token, then the same with one thing wrong.
    const nonce = 'nonce-of-this-sign-in';
    const good = { iss: portero, aud: billing.clientId, sub: ALICE.sub, nonce, sid: 's', iat: now, exp: now + 300 };
    const otherKey = await generateKeyJwk('RS256');
    const unsigned = (claims: object) =>
      `${Buffer.from(JSON.stringify({ alg: 'none', kid: rsaKey.kid })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
    const idTokens = {
      good: await sign(good),
      forAnotherApp: await sign({ ...good, aud: wiki.clientId }),
      forAnotherAppNamingThisOne: await sign({ ...good, aud: wiki.clientId, azp: billing.clientId }),
      fromAnotherIssuer: await sign({ ...good, iss: 'http://127.0.0.1:1' }),
      forAnotherSignIn: await sign({ ...good, nonce: 'another-nonce' }),
      expired: await sign({ ...good, iat: now - 900, exp: now - 600 }),
      signedByAnotherKey: await sign(good, {}, otherKey),
      unsigned: unsigned(good),
    };
    const script = `
import json, os, sys
sys.path.insert(0, "examples/apps")
from authlib_app import Portero, TokenRefused, validate_id_token
portero = Portero(os.environ["PORTERO_ISSUER"])
verdicts = {}
for name, token in json.loads(os.environ["ID_TOKENS"]).items():
    try:
        validate_id_token(portero, os.environ["CLIENT_ID"], token, os.environ["NONCE"])
        verdicts[name] = "accepted"
    except TokenRefused as err:
        verdicts[name] = str(err)
print(json.dumps(verdicts))
`;
    const run = await runPython(['-c', script], {
      PORTERO_ISSUER: portero,
      CLIENT_ID: billing.clientId,
      NONCE: nonce,
      ID_TOKENS: JSON.stringify(idTokens),
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      good: 'accepted',
      forAnotherApp: expect.stringMatching(/^ID token refused: invalid_claim: .*"aud"/),
      forAnotherAppNamingThisOne: expect.stringMatching(/^ID token refused: invalid_claim: .*"aud"/),
      fromAnotherIssuer: expect.stringMatching(/^ID token refused: invalid_claim: .*"iss"/),
      forAnotherSignIn: expect.stringMatching(/^ID token refused: invalid_claim: .*"nonce"/),
      expired: expect.stringMatching(/^ID token refused: expired_token/),
      signedByAnotherKey: expect.stringMatching(/^ID token refused: bad_signature/),
      unsigned: expect.stringMatching(/^ID token refused: unsupported_algorithm/),
    });

    // Both apps' back-channel endpoints: a logout token for the app is taken (200; it names a session
    // the app does not have, so it ends none); with one thing wrong, it is refused (400).
    for (const [app, other] of [
      [billing, wiki],
      [wiki, billing],
    ] as const) {
      const logout = {
        iss: portero,
        aud: app.clientId,
        iat: now,
        jti: `jti-${app.clientId}`,
        sid: 'an-ended-session',
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      };
      const post = async (token: string) =>
        (
          await fetch(`${app.url}/backchannel`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ logout_token: token }),
          })
        ).status;
      const typed = { typ: 'logout+jwt' };
      const statuses = {
        good: await post(await sign(logout, typed)),
        forAnotherApp: await post(await sign({ ...logout, aud: other.clientId }, typed)),
        fromAnotherIssuer: await post(await sign({ ...logout, iss: 'http://127.0.0.1:1' }, typed)),
        withoutTheEvent: await post(await sign({ ...logout, events: {} }, typed)),
        // What tells it from an ID token: its type, and no nonce.
        notTyped: await post(await sign(logout)),
        withANonce: await post(await sign({ ...logout, nonce }, typed)),
      };
      expect(statuses, app.clientId).toEqual({
        good: 200,
        forAnotherApp: 400,
        fromAnotherIssuer: 400,
        withoutTheEvent: 400,
        notTyped: 400,
        withANonce: 400,
      });
    }
  }, 60_000);
});
