import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MemoryStore } from '../../src/store/memory.js';
import { ephemeralKeySet } from '../../src/tokens/keys.js';
import { buildTestApp, ManualClock, memoryStore, type TestApp } from '../support/app.js';
import { setCookieLines } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { signInAt } from '../support/sign-in.js';

// A session is renewed only while the access rules would still let its user sign in, and its
// provider is still configured: taking someone out of an allowed-emails file, or a provider out of
// the configuration, is not undone by SESSION_TTL of renewals (red-team review, issue 10).

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://auth.example.com';
const COOKIE = '__Host-auth_token';
const JWT_TTL = 600;

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

let clock: ManualClock;
let store: MemoryStore;
let dir: string;
let file: string;

beforeEach(() => {
  clock = new ManualClock();
  store = memoryStore(clock);
  dir = mkdtempSync(join(tmpdir(), 'portero-session-access-'));
  file = join(dir, 'allowed.txt');
  writeFileSync(file, 'ada@company.com\nlin@company.com\n');
  return () => rmSync(dir, { recursive: true, force: true });
});

const gatewayWith = (env: Record<string, string>, keys?: Awaited<ReturnType<typeof ephemeralKeySet>>) =>
  buildTestApp({ store, clock, ...(keys ? { keys } : {}), env: { PUBLIC_URL: GATEWAY, JWT_TTL: String(JWT_TTL), ...env } });

const signIn = async (gateway: TestApp, email: string) =>
  (await signInAt(gateway, idp, { sub: `u-${email}`, claims: { email, email_verified: true } }, { origin: GATEWAY })).token;

const refresh = (gateway: TestApp, token: string) =>
  gateway.app.request(`${GATEWAY}/refresh`, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
const auth = (gateway: TestApp, token: string) => gateway.app.request(`${GATEWAY}/auth`, { headers: { cookie: `${COOKIE}=${token}` } });

describe('renewal and the access rules', () => {
  it('regression: a user taken out of _ALLOWED_EMAILS_FILE is not renewed, however long the session', async () => {
    const gateway = await gatewayWith({ ...idp.env('corp'), PROVIDER_CORP_ALLOWED_EMAILS_FILE: file });
    const ada = await signIn(gateway, 'ada@company.com');
    const lin = await signIn(gateway, 'lin@company.com');
    writeFileSync(file, 'ada@company.com\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    // Past half its life, lin's token is still let through, but no longer renewed in passing.
    clock.advance(JWT_TTL / 2 + 1);
    const passing = await auth(gateway, lin);
    expect(passing.status).toBe(200);
    expect(setCookieLines(passing).get(COOKIE)).toBeUndefined();
    clock.advance(JWT_TTL);
    const refused = await refresh(gateway, lin);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'not_allowed' });
    expect((await auth(gateway, lin)).status).toBe(401);
    // Whoever the file still names renews as before.
    expect((await refresh(gateway, ada)).status).toBe(200);
    expect((await auth(gateway, ada)).status).toBe(200);
  });

  it('regression: a session of a provider since taken out of the configuration is not renewed', async () => {
    const keys = await ephemeralKeySet('ES256');
    const before = await gatewayWith(idp.env('corp'), keys);
    const token = await signIn(before, 'ada@company.com');
    const after = await gatewayWith(idp.env('other'), keys);
    clock.advance(JWT_TTL + 60);
    expect((await refresh(after, token)).status).toBe(401);
    expect((await auth(after, token)).status).toBe(401);
    expect((await refresh(before, token)).status).toBe(200);
  });
});
