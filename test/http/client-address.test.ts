import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { clientAddress } from '../../src/http/client-address.js';
import type { AppEnv } from '../../src/http/types.js';
import { fromPeer } from '../support/app.js';

/** Who `clientAddress` says sent a request from `peer` with `headers`, behind `trusted` proxies. */
async function clientOf(
  trusted: string[],
  peer: string | undefined,
  headers: Record<string, string> = {},
  header: 'x-forwarded-for' | 'forwarded' = 'x-forwarded-for',
) {
  const app = new Hono<AppEnv>();
  app.use(clientAddress(trusted, header));
  app.get('/', (c) => c.json(c.get('client')));
  const response = await app.request('http://gateway.test/', { headers }, peer === undefined ? undefined : fromPeer(peer));
  return (await response.json()) as { address: string; limitKey: string; networkKey?: string; viaTrustedProxy: boolean };
}

describe('the client address', () => {
  it("is the socket's address when the peer is not a trusted proxy, whatever the headers say", async () => {
    const spoofed = { 'x-forwarded-for': '192.0.2.1', forwarded: 'for=192.0.2.2' };
    expect(await clientOf([], '198.51.100.7', spoofed)).toEqual({
      address: '198.51.100.7',
      limitKey: '198.51.100.7',
      viaTrustedProxy: false,
    });
    expect(await clientOf(['10.0.0.0/8'], '198.51.100.7', spoofed)).toMatchObject({ address: '198.51.100.7' });
  });

  it('is the nearest untrusted hop of X-Forwarded-For from a trusted proxy, not what the client prepended', async () => {
    // The client sent "X-Forwarded-For: 192.0.2.66"; nginx appended the address it saw.
    const client = await clientOf(['10.0.0.0/8'], '10.0.0.2', { 'x-forwarded-for': '192.0.2.66, 203.0.113.5' });
    expect(client).toEqual({ address: '203.0.113.5', limitKey: '203.0.113.5', viaTrustedProxy: true });
    // Two trusted proxies in a row (a CDN's edge, then nginx) are both skipped.
    const chained = await clientOf(['10.0.0.0/8', '172.16.0.0/12'], '10.0.0.2', { 'x-forwarded-for': '203.0.113.5, 172.16.4.4' });
    expect(chained.address).toBe('203.0.113.5');
  });

  it('stops at the proxy that reported an unparseable hop, so garbage cannot choose a rate-limit bucket', async () => {
    const client = await clientOf(['10.0.0.0/8'], '10.0.0.2', { 'x-forwarded-for': 'not-an-address, 10.0.0.9' });
    expect(client.address).toBe('10.0.0.9');
    // ipaddr.js would read "2130706433" as 127.0.0.1; no proxy writes that form.
    expect((await clientOf(['10.0.0.0/8'], '10.0.0.2', { 'x-forwarded-for': '2130706433' })).address).toBe('10.0.0.2');
  });

  it('reads the one header TRUSTED_PROXY_HEADER names, never the other, which is whatever the client sent', async () => {
    const forwarded = 'for=192.0.2.60;proto=https;by=10.0.0.2, for="[2001:db8:cafe::17]:4711"';
    // nginx appends to X-Forwarded-For and passes a client's own Forwarded along untouched.
    expect((await clientOf(['10.0.0.0/8'], '10.0.0.2', { forwarded })).address).toBe('10.0.0.2');
    expect((await clientOf(['10.0.0.0/8'], '10.0.0.2', { forwarded, 'x-forwarded-for': '203.0.113.5' })).address).toBe('203.0.113.5');
    // HAProxy's `option forwarded` writes Forwarded and passes a client's own X-Forwarded-For along.
    const haproxy = await clientOf(['10.0.0.0/8'], '10.0.0.2', { forwarded, 'x-forwarded-for': '198.18.0.1' }, 'forwarded');
    expect(haproxy.address).toBe('2001:db8:cafe::17');
    expect((await clientOf(['10.0.0.0/8'], '10.0.0.2', { 'x-forwarded-for': '198.18.0.1' }, 'forwarded')).address).toBe('10.0.0.2');
  });

  it('counts an IPv6 client by its /64, and an IPv4-mapped address as IPv4', async () => {
    const a = await clientOf([], '2001:db8:aaaa:bbbb::1');
    const b = await clientOf([], '2001:db8:aaaa:bbbb:ffff:ffff:ffff:ffff');
    const other = await clientOf([], '2001:db8:aaaa:bbbc::1');
    expect(a.limitKey).toBe('2001:db8:aaaa:bbbb::/64');
    expect(a).toMatchObject({ networkKey: '2001:db8:aaaa::/48' });
    expect(other).toMatchObject({ networkKey: '2001:db8:aaaa::/48' });
    expect(b.limitKey).toBe(a.limitKey);
    expect(other.limitKey).not.toBe(a.limitKey);
    expect(await clientOf(['127.0.0.1/32'], '::ffff:127.0.0.1')).toEqual({
      address: '127.0.0.1',
      limitKey: '127.0.0.1',
      viaTrustedProxy: true,
    });
  });

  it('trusts a proxy configured as a dual-stack socket shows it (::ffff:10.0.0.2), from TRUSTED_PROXIES to the walk', async () => {
    const { server } = parseConfig({ TRUSTED_PROXIES: '::ffff:10.0.0.2', TRUSTED_PROXY_HEADER: 'x-forwarded-for' });
    const client = await clientOf(
      [...server.trustedProxies],
      '::ffff:10.0.0.2',
      { 'x-forwarded-for': '203.0.113.5' },
      server.trustedProxyHeader,
    );
    expect(client).toMatchObject({ address: '203.0.113.5', viaTrustedProxy: true });
  });

  it('reads Forwarded as RFC 7239 says: a for= inside a quoted value is no hop, an element with two is none', async () => {
    // A hand-written proxy rule copying the client's Host into Forwarded (red team, second pass).
    const quoted = await clientOf(['10.0.0.0/8'], '10.0.0.2', { forwarded: 'for=203.0.113.7;host="x;for=198.18.0.67;y="' }, 'forwarded');
    expect(quoted.address).toBe('203.0.113.7');
    const twice = await clientOf(
      ['10.0.0.0/8'],
      '10.0.0.2',
      { forwarded: 'for=203.0.113.7;host=x;for=198.18.0.66;proto=https' },
      'forwarded',
    );
    expect(twice.address).toBe('10.0.0.2');
    const open = await clientOf(['10.0.0.0/8'], '10.0.0.2', { forwarded: 'for="203.0.113.7' }, 'forwarded');
    expect(open.address).toBe('10.0.0.2');
    const ported = await clientOf(['10.0.0.0/8'], '10.0.0.2', { forwarded: 'for="[2001:db8::7]:4711";proto=https' }, 'forwarded');
    expect(ported.address).toBe('2001:db8::7');
  });

  it("counts a client behind NAT64 or Teredo by its own IPv4 address, not by the translator's /64", async () => {
    const nat64 = await clientOf([], '64:ff9b::203.0.113.7');
    expect(nat64).toMatchObject({ limitKey: '203.0.113.7' });
    expect((await clientOf([], '64:ff9b::198.51.100.9')).limitKey).toBe('198.51.100.9');
    // Teredo (RFC 4380): the client's address is the last 32 bits, inverted.
    const teredo = await clientOf([], '2001:0:4136:e378:8000:63bf:3fff:fdd2');
    expect(teredo).toMatchObject({ limitKey: '192.0.2.45' });
    expect(teredo.networkKey).toBeUndefined();
  });

  it('is "unknown" when there is no socket (a request made in process)', async () => {
    expect(await clientOf([], undefined)).toEqual({ address: 'unknown', limitKey: 'unknown', viaTrustedProxy: false });
  });
});
