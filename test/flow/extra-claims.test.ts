import { describe, expect, it } from 'vitest';
import { EXTRA_CLAIMS_BUDGET, selectExtraClaims } from '../../src/flow/extra-claims.js';

/** The bytes the carried claims take in the token's JSON: `"name":value,` each. */
const bytesOf = (claims: Record<string, unknown>) =>
  Object.entries(claims).reduce((sum, [name, value]) => sum + Buffer.byteLength(`${JSON.stringify(name)}:${JSON.stringify(value)},`), 0);

describe('which extra claims a token carries', () => {
  it('copies strings, numbers, booleans and arrays of strings as they are', () => {
    const source = { roles: ['admin', 'dev'], level: 3, ratio: 0.5, active: false, department: 'R&D', none: [] };
    expect(selectExtraClaims(['roles', 'level', 'ratio', 'active', 'department', 'none'], [source])).toEqual({
      claims: { roles: ['admin', 'dev'], level: 3, ratio: 0.5, active: false, department: 'R&D', none: [] },
      leftOut: [],
    });
  });

  it('leaves out, and names, what is no such value: an object, an array of anything but strings', () => {
    const source = { realm_access: { roles: ['admin'] }, mixed: ['a', 1], nested: [['a']], ok: 'yes' };
    expect(selectExtraClaims(['realm_access', 'mixed', 'nested', 'ok'], [source])).toEqual({
      claims: { ok: 'yes' },
      leftOut: ['realm_access', 'mixed', 'nested'],
    });
  });

  it('reads a name the provider does not give, or gives as null, as absent: nothing carried, nothing to report', () => {
    expect(selectExtraClaims(['company', 'missing'], [{ company: null }, undefined])).toEqual({ claims: {}, leftOut: [] });
  });

  it("takes each from the first source that gives it: the preset's, then the ID token, then userinfo", () => {
    const preset = { orgs: ['acme'] };
    const idToken = { orgs: ['from-id-token'], roles: ['id-token-role'], team: null };
    const userinfo = { roles: ['userinfo-role'], team: 'blue', login: 'ada' };
    expect(selectExtraClaims(['orgs', 'roles', 'team', 'login'], [preset, idToken, userinfo]).claims).toEqual({
      orgs: ['acme'],
      roles: ['id-token-role'],
      team: 'blue',
      login: 'ada',
    });
  });

  it('never reads an inherited property as a claim, and keeps one named __proto__ a claim', () => {
    const source = JSON.parse('{"__proto__": "odd but given"}') as Record<string, unknown>;
    const { claims } = selectExtraClaims(['constructor', 'toString', '__proto__'], [source]);
    expect(Object.keys(claims)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(claims)).toBe(Object.prototype);
    expect(JSON.stringify(claims)).toBe('{"__proto__":"odd but given"}');
  });

  it(`carries a claim whole or not at all, within ${EXTRA_CLAIMS_BUDGET} bytes together, in the order named`, () => {
    const roles = Array.from({ length: 500 }, (_, i) => `role-${i}`);
    const source = { roles, bio: 'x'.repeat(5000), team: 'blue', first: 'a'.repeat(600), second: 'b'.repeat(600), third: 'c' };
    const { claims, leftOut } = selectExtraClaims(['roles', 'bio', 'team', 'first', 'second', 'third'], [source]);
    // 500 roles and a 5000-character biography cannot fit: left out whole, never cut to a few.
    expect(claims).toEqual({ team: 'blue', first: 'a'.repeat(600), third: 'c' });
    // `second` would fit alone, but not after `first`, which was named before it.
    expect(leftOut).toEqual(['roles', 'bio', 'second']);
    expect(bytesOf(claims)).toBeLessThanOrEqual(EXTRA_CLAIMS_BUDGET);
  });

  it('counts bytes, not characters: a name in CJK takes three a character', () => {
    const fits = '山'.repeat(Math.floor((EXTRA_CLAIMS_BUDGET - '"n":"",'.length) / 3));
    expect(selectExtraClaims(['n'], [{ n: fits }]).leftOut).toEqual([]);
    expect(selectExtraClaims(['n'], [{ n: `${fits}山` }]).leftOut).toEqual(['n']);
  });
});
