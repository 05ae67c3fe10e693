import { decodeProtectedHeader, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKeySet, generateKeyJwk } from '../../src/tokens/keys.js';
import { KeyRing } from '../../src/tokens/key-ring.js';
import { TestBrowser } from '../support/browser.js';
import { type PorteroOpStack, startPorteroOp } from '../support/portero-op.js';

// A reload of JWT_KEYS (SIGHUP, or the file changing) reaches the OpenID Provider too: its keystore
// is fixed when it is built, so portero builds it again on the new keys, and the sessions, grants
// and single sign-on it keeps in the store carry on.

let stack: PorteroOpStack;
let ring: KeyRing;
let signing: JWK;
let oldRsa: JWK;
beforeAll(async () => {
  [signing, oldRsa] = [await generateKeyJwk('ES256'), await generateKeyJwk('RS256')];
  ring = new KeyRing(await buildKeySet([signing, oldRsa], 'ES256'));
  stack = await startPorteroOp({}, { keyRing: ring });
});
afterAll(() => stack.close());

describe('the OpenID Provider after a key reload', () => {
  it('signs with the reloaded RSA key, and a browser signed in before keeps its single sign-on', async () => {
    const browser = new TestBrowser();
    const before = await stack.appSignIn(browser, 'one');
    const oldKid = decodeProtectedHeader(before.tokens.id_token!).kid;
    const newRsa = await generateKeyJwk('RS256');
    // The new RSA key first of the RSA keys (it signs), the old one still published for its tokens.
    ring.replace(await buildKeySet([signing, newRsa, oldRsa], 'ES256'));
    const after = await stack.appSignIn(browser, 'two');
    expect(after.walk.sawUpstream).toBe(false);
    expect(decodeProtectedHeader(after.tokens.id_token!).kid).toBe(newRsa.kid);
    expect(oldKid).not.toBe(newRsa.kid);
    const jwks = (await (await fetch(`${stack.publicUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((key) => key.kid)).toEqual(expect.arrayContaining([oldKid, newRsa.kid]));
  });
});
