import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, errors, type JSONWebKeySet } from 'jose';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { buildKeySet, generateKeyJwk } from '../../src/tokens/keys.js';
import { createVerifier } from '../../src/verify/index.js';
import { serveGateway } from '../support/served-gateway.js';
import { foreignToken, later, refusal, verifyFixture } from '../support/verify.js';

// How a verifier gets portero's keys: fetched over real HTTP from gateways served on 127.0.0.1,
// again after a rotation, at most once per cooldown for unknown kids, kept through an outage for
// `cacheMaxAge`, given up after `timeoutDuration`; plain http only on loopback unless allowed.

const { idp, msw, gateway, token } = await verifyFixture();

describe('key rotation', () => {
  it('the same verifier accepts tokens of the new key (fetching the keys again) and still the old ones', async () => {
    const keyA = await generateKeyJwk('ES256');
    const keyB = await generateKeyJwk('ES256');
    const rotating = await serveGateway(idp, { keys: await buildKeySet([keyA], 'ES256') });
    try {
      const shared = createVerifier({ issuer: rotating.issuer });
      const t1 = await rotating.signIn('u-1');
      expect(decodeProtectedHeader(t1).kid).toBe(keyA.kid);
      await expect(shared.verify(t1)).resolves.toMatchObject({ sub: 'corp:u-1' });
      expect(rotating.jwksFetches).toBe(1);

      // `npm run keys -- --rotate` and a restart, some time later (past jose's 30 s cooldown).
      later(60);
      await rotating.rebuild({ keys: await buildKeySet([keyB, keyA], 'ES256') });
      const t2 = await rotating.signIn('u-2');
      expect(decodeProtectedHeader(t2).kid).toBe(keyB.kid);

      await expect(shared.verify(t2)).resolves.toMatchObject({ sub: 'corp:u-2' });
      expect(rotating.jwksFetches).toBe(2);
      await expect(shared.verify(t1)).resolves.toMatchObject({ sub: 'corp:u-1' });
      expect(rotating.jwksFetches).toBe(2);
    } finally {
      await rotating.close();
    }
  });

  it('tokens with unknown kids cost the gateway at most one JWKS fetch per 30 s', async () => {
    const shared = createVerifier({ issuer: gateway.issuer });
    await shared.verify(token);
    const fetches = gateway.jwksFetches;
    for (let i = 0; i < 10; i++) {
      expect((await refusal(shared.verify(await foreignToken(decodeJwt(token))))).cause).toBeInstanceOf(errors.JWKSNoMatchingKey);
    }
    expect(gateway.jwksFetches).toBe(fetches);

    later(31);
    expect((await refusal(shared.verify(await foreignToken(decodeJwt(token))))).code).toBe('invalid_token');
    expect(gateway.jwksFetches).toBe(fetches + 1);
  });
});

describe('cacheMaxAge: verifying while the gateway is down', () => {
  it("regression: verification stopped 10 minutes into a gateway outage (jose's default cacheMaxAge, not settable)", async () => {
    const outage = await serveGateway(idp);
    const t = await outage.signIn('u-3');
    const byDefault = createVerifier({ issuer: outage.issuer });
    const patient = createVerifier({ issuer: outage.issuer, cacheMaxAge: 30 * 60_000 });
    await expect(byDefault.verify(t)).resolves.toMatchObject({ sub: 'corp:u-3' });
    await expect(patient.verify(t)).resolves.toMatchObject({ sub: 'corp:u-3' });
    expect(outage.jwksFetches).toBe(2);
    await outage.close();

    later(9 * 60); // both caches fresh: neither needs the gateway
    await expect(byDefault.verify(t)).resolves.toMatchObject({ sub: 'corp:u-3' });
    await expect(patient.verify(t)).resolves.toMatchObject({ sub: 'corp:u-3' });

    later(2 * 60); // 11 min: past jose's default of 10
    const err = await refusal(byDefault.verify(t));
    expect(err.code).toBe('jwks_unavailable');
    expect(err.cause).toBeInstanceOf(TypeError); // fetch failed: connection refused
    await expect(patient.verify(t)).resolves.toMatchObject({ sub: 'corp:u-3' });

    later(20 * 60); // 31 min: past its own cacheMaxAge, and the old keys are no fallback
    expect((await refusal(patient.verify(t))).code).toBe('jwks_unavailable');
  });

  it('once the keys are too old, every verification tries the gateway again until one fetch succeeds', async () => {
    const own = createVerifier({ issuer: gateway.issuer, cacheMaxAge: 20 * 60_000 });
    await own.verify(token);
    const fetches = gateway.jwksFetches;
    let attempts = 0;
    msw.use(
      http.get(gateway.jwksUrl, () => {
        attempts += 1;
        return HttpResponse.error();
      }),
    );

    later(21 * 60);
    expect((await refusal(own.verify(token))).code).toBe('jwks_unavailable');
    expect((await refusal(own.verify(token))).code).toBe('jwks_unavailable');
    expect(attempts).toBe(2); // the failed fetch did not make the old keys fresh again

    msw.resetHandlers(); // the gateway is back
    await expect(own.verify(token)).resolves.toMatchObject({ sub: 'corp:u-7' });
    expect(gateway.jwksFetches).toBe(fetches + 1);

    msw.use(http.get(gateway.jwksUrl, () => HttpResponse.error()));
    later(19 * 60); // fresh again, for another cacheMaxAge from that fetch
    await expect(own.verify(token)).resolves.toMatchObject({ sub: 'corp:u-7' });
  });
});

describe('timeoutDuration and cooldownDuration', () => {
  it('gives up a fetch the gateway never answers after timeoutDuration, as jwks_unavailable', async () => {
    const hanging = createServer(() => {}); // accepts the request, never answers
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const jwksUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/.well-known/jwks.json`;
      const impatient = createVerifier({ issuer: gateway.issuer, jwksUrl, timeoutDuration: 200 });
      const started = performance.now();
      const err = await refusal(impatient.verify(token));
      expect(err.code).toBe('jwks_unavailable');
      expect(err.cause).toBeInstanceOf(errors.JWKSTimeout);
      expect(performance.now() - started).toBeLessThan(2_000); // not jose's default 5 s
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    }
  });

  it('fetches again for an unknown kid once cooldownDuration has passed since the last fetch', async () => {
    const byDefault = createVerifier({ issuer: gateway.issuer });
    const quick = createVerifier({ issuer: gateway.issuer, cooldownDuration: 5_000 });
    await byDefault.verify(token);
    await quick.verify(token);
    const fetches = gateway.jwksFetches;

    later(6);
    expect((await refusal(byDefault.verify(await foreignToken(decodeJwt(token))))).code).toBe('invalid_token');
    expect(gateway.jwksFetches).toBe(fetches); // still within jose's default 30 s
    expect((await refusal(quick.verify(await foreignToken(decodeJwt(token))))).code).toBe('invalid_token');
    expect(gateway.jwksFetches).toBe(fetches + 1);
  });
});

describe('plain http', () => {
  it.each([
    'http://localhost:8080/.well-known/jwks.json',
    'http://127.0.0.53/.well-known/jwks.json',
    'http://[::1]:3000/.well-known/jwks.json',
    'https://auth.example.com/.well-known/jwks.json',
  ])('builds a verifier for %s (https, or http on loopback)', (jwksUrl) => {
    expect(() => createVerifier({ issuer: 'https://auth.example.com', jwksUrl })).not.toThrow();
  });

  it('builds one for an issuer on loopback over http (its JWKS URL comes from it)', () => {
    expect(() => createVerifier({ issuer: 'http://localhost:3000' })).not.toThrow();
    expect(() => createVerifier({ issuer: 'http://auth.example.com' })).toThrow(
      /^"issuer" option \(which gives the JWKS URL\) uses plain http/,
    );
  });

  it('fetches the keys over http from another host only with allowInsecureHttp: true', async () => {
    const jwks = (await (await fetch(gateway.jwksUrl)).json()) as JSONWebKeySet;
    const jwksUrl = 'http://portero.internal/.well-known/jwks.json';
    let served = 0;
    msw.use(
      http.get(jwksUrl, () => {
        served += 1;
        return HttpResponse.json(jwks);
      }),
    );
    for (const allowInsecureHttp of [undefined, false]) {
      expect(() =>
        createVerifier({ issuer: gateway.issuer, jwksUrl, ...(allowInsecureHttp === undefined ? {} : { allowInsecureHttp }) }),
      ).toThrow(
        expect.objectContaining({
          name: 'TypeError',
          code: 'ERR_INVALID_ARG_VALUE',
          message: expect.stringMatching(/^"jwksUrl" option uses plain http on a non-loopback host \(portero\.internal\)/),
        }),
      );
    }
    const insecure = createVerifier({ issuer: gateway.issuer, jwksUrl, allowInsecureHttp: true });
    await expect(insecure.verify(token)).resolves.toMatchObject({ sub: 'corp:u-7' });
    expect(served).toBe(1);
  });
});
