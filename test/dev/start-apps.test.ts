import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyJwk } from '../../src/tokens/keys.js';
import { runGatewayToExit, startGateway, type GatewayProcess } from '../support/process.js';

// `npm start` with an app registered (APP_<ID>_*), as a newcomer tries the OpenID Provider: in
// development it just works (an ephemeral RSA key beside the signing key); in production a key
// file without an RSA key is refused, saying which command adds one.

/**
 * An app, and a provider of one's own (unreachable here: discovery fails, and is retried at the
 * first login), so the development IdP, whose own console capture would take every notice, is not started.
 */
const APP = {
  APP_WIKI_REDIRECT_URIS: 'http://localhost:8000/oidc/callback',
  PROVIDER_CORP_TYPE: 'oidc',
  PROVIDER_CORP_ISSUER: 'http://127.0.0.1:9',
  PROVIDER_CORP_CLIENT_ID: 'portero',
  PROVIDER_CORP_CLIENT_SECRET: 'corp-secret',
  LOG_LEVEL: 'debug',
};

let gateway: GatewayProcess;
beforeAll(async () => {
  gateway = await startGateway({ env: APP });
});
afterAll(async () => {
  await gateway?.stop();
});

describe('npm start with an app registered', () => {
  it('serves the OpenID Provider’s metadata and an RS256 key in the one JWKS', async () => {
    const metadata = (await (await fetch(`${gateway.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ issuer: gateway.url, authorization_endpoint: `${gateway.url}/authorize` });
    const jwks = (await (await fetch(`${gateway.url}/.well-known/jwks.json`)).json()) as { keys: { alg: string }[] };
    expect(jwks.keys.map((key) => key.alg)).toEqual(expect.arrayContaining(['ES256', 'RS256']));
  });

  it('writes log lines only, the OpenID Provider’s notices included, through a token request', async () => {
    const response = await fetch(`${gateway.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'nope', client_id: 'wiki', redirect_uri: 'x' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
    await expect.poll(() => gateway.logs()).toContain('openid_provider_notice');
    const plain = gateway
      .logs()
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('{') && !line.startsWith('>'));
    expect(plain).toEqual([]);
  });
});

describe('npm start in production with an app and no RSA key', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portero-keys-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('refuses to start, naming the command that adds one', async () => {
    const file = join(dir, 'keys.json');
    await writeFile(file, JSON.stringify({ keys: [await generateKeyJwk('ES256')] }));
    const { code, stdout, stderr } = await runGatewayToExit({
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://auth.example.com',
      REDIS_URL: 'redis://127.0.0.1:9',
      COOKIE_SECRET: 'test-cookie-secret-0123456789-abcdefghij',
      JWT_KEYS: file,
      PROVIDER_CORP_TYPE: 'oidc',
      PROVIDER_CORP_ISSUER: 'https://idp.example.com',
      PROVIDER_CORP_CLIENT_ID: 'portero',
      PROVIDER_CORP_CLIENT_SECRET: 'corp-secret',
      APP_WIKI_REDIRECT_URIS: 'https://wiki.example.org/oidc/callback',
    });
    expect(code).toBe(1);
    expect(stderr).toContain('--add-rsa');
    expect(stdout).not.toContain('portero listening');
  });
});
