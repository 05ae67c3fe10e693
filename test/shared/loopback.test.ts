import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/parse.js';
import { isLoopbackHost } from '../../src/shared/loopback.js';
import { createVerifier } from '../../src/verify/index.js';

// One rule for where plain http may go, used by the gateway (provider endpoints) and by
// portero/verify (the JWKS URL). They disagreed once (the gateway accepted *.localhost).

const LOOPBACK = ['localhost', '127.0.0.1', '127.8.9.10', '[::1]'];
const NOT_LOOPBACK = ['idp.localhost', 'localhost.evil.example', '127.0.0.1.nip.io', '128.0.0.1', '[::2]', 'example.com', '0.0.0.0'];

const gatewayAccepts = (host: string) => {
  try {
    parseConfig({ PROVIDER_CORP_CLIENT_ID: 'c', PROVIDER_CORP_TYPE: 'oidc', PROVIDER_CORP_ISSUER: `http://${host}:8080` });
    return true;
  } catch (err) {
    if (err instanceof ConfigError) return false;
    throw err;
  }
};

const verifierAccepts = (host: string) => {
  try {
    createVerifier({ issuer: `http://${host}:8080` });
    return true;
  } catch (err) {
    if (err instanceof TypeError) return false;
    throw err;
  }
};

describe('the loopback rule', () => {
  it.each(LOOPBACK)('%s is loopback: the gateway and portero/verify allow plain http to it', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
    expect(gatewayAccepts(host)).toBe(true);
    expect(verifierAccepts(host)).toBe(true);
  });

  it.each(NOT_LOOPBACK)('%s is not: both refuse plain http to it', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
    expect(gatewayAccepts(host)).toBe(false);
    expect(verifierAccepts(host)).toBe(false);
  });
});
