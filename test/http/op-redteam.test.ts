import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PorteroOpStack, startPorteroOp } from '../support/portero-op.js';

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

describe('the OpenID Provider under attack', () => {
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
