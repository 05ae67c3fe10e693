import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ONE_SECRET, type PorteroOpStack, startPorteroOp } from '../support/portero-op.js';

// What a red-team review of the OpenID Provider found: each case an attacker's request or a
// user's path through oidc-provider's own flows that the provider answered wrongly.

let stack: PorteroOpStack;
beforeAll(async () => {
  stack = await startPorteroOp();
});
afterAll(() => stack.close());

/** One request written on the socket as given (a request target no fetch would send), its whole answer as text. */
function rawRequest(publicUrl: string, head: string): Promise<string> {
  const { port } = new URL(publicUrl);
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(`${head}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** A token request with a code that is none: past client authentication, the provider answers invalid_grant (400). */
const tokenRequest = (publicUrl: string, from: string, authorization: string | undefined, form: Record<string, string> = {}) =>
  fetch(`${publicUrl}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-forwarded-for': from,
      ...(authorization ? { authorization } : {}),
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: 'x', ...form }),
  });

describe('the OpenID Provider under attack', () => {
  it('counts RATE_LIMIT_TOKEN per app only for the app itself: naming an app without its secret uses up no budget of its', async () => {
    const limited = await startPorteroOp({ RATE_LIMIT_TOKEN: '3/60s', TRUSTED_PROXIES: '127.0.0.1' });
    try {
      const guesses: number[] = [];
      for (let i = 0; i < 4; i++) guesses.push((await tokenRequest(limited.publicUrl, '203.0.113.9', basic('one', 'guessed'))).status);
      // Guessing the confidential app's secret is counted at the guesser's address.
      expect(guesses).toEqual([401, 401, 401, 429]);
      // Anyone may name the public app: its requests are counted by address, as they come from its users' devices.
      for (let i = 0; i < 3; i++)
        expect((await tokenRequest(limited.publicUrl, '203.0.113.10', undefined, { client_id: 'two' })).status).toBe(400);
      // The apps are untouched: the confidential app's servers with its secret, the public app's users from their own addresses.
      expect((await tokenRequest(limited.publicUrl, '198.51.100.1', basic('one', APP_ONE_SECRET))).status).toBe(400);
      expect((await tokenRequest(limited.publicUrl, '198.51.100.2', undefined, { client_id: 'two' })).status).toBe(400);
    } finally {
      await limited.close();
    }
  });

  it('names only PUBLIC_URL in its metadata for a request in absolute form (GET http://evil.example/...), as a cache would keep it', async () => {
    const host = new URL(stack.publicUrl).host;
    const answer = await rawRequest(stack.publicUrl, `GET http://evil.example/.well-known/openid-configuration HTTP/1.1\r\nHost: ${host}`);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const metadata = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
    expect(metadata.token_endpoint).toBe(`${stack.publicUrl}/token`);
    expect(metadata.authorization_endpoint).toBe(`${stack.publicUrl}/authorize`);
    expect(answer).not.toContain('evil.example');
  });
});
