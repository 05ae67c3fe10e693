import type { HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';
import ipaddr from 'ipaddr.js';
import type { ServerConfig } from '../config/types.js';
import { forwardedFor } from './forwarded.js';
import type { AppEnv, Client } from './types.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** An address as written in a header or by the socket; IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as IPv4. */
function parseAddress(text: string | undefined): Address | undefined {
  if (text === undefined) return undefined;
  const bare = text.trim();
  // Only the plain forms: ipaddr.js also reads `127.1` or `2130706433` as 127.0.0.1, which no proxy writes.
  if (!ipaddr.IPv6.isValid(bare) && !ipaddr.IPv4.isValidFourPartDecimal(bare)) return undefined;
  return ipaddr.process(bare);
}

/**
 * The hops the proxy chain reports in `header`, nearest last: `X-Forwarded-For`, which nginx,
 * Caddy and Traefik append to, or RFC 7239 `Forwarded` (HAProxy's `option forwarded`). Only the
 * header TRUSTED_PROXY_HEADER names is read: the other one, which the proxy does not write, is
 * whatever the client sent.
 */
function reportedHops(c: Context, header: ServerConfig['trustedProxyHeader']): string[] {
  const value = c.req.header(header);
  if (value === undefined) return [];
  return header === 'x-forwarded-for' ? value.split(',').map((hop) => hop.trim()) : forwardedFor(value);
}

/** An IPv6 address's first `bits` (a multiple of 16) as `network::/bits`. */
function ipv6Network(address: ipaddr.IPv6, bits: 48 | 64): string {
  return `${address.parts
    .slice(0, bits / 16)
    .map((part) => part.toString(16))
    .join(':')}::/${bits}`;
}

/**
 * The IPv4 client inside an IPv6 address that a translator or tunnel made for it: NAT64's
 * `64:ff9b::a.b.c.d` (RFC 6052) and Teredo's (its last 32 bits, inverted). All of one translator's
 * clients share a /64, so counting them by it would let one of them lock out all the others.
 */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const range = address.range();
  if (range !== 'rfc6052' && range !== 'teredo') return undefined;
  const [high, low] = address.parts.slice(6) as [number, number];
  const bits = range === 'teredo' ? [~high & 0xffff, ~low & 0xffff] : [high, low];
  return new ipaddr.IPv4(bits.flatMap((part) => [part >> 8, part & 0xff]));
}

function limitKeysOf(address: Address): Pick<Client, 'limitKey' | 'networkKey'> {
  if (address.kind() === 'ipv4') return { limitKey: address.toString() };
  const translated = embeddedIPv4(address as ipaddr.IPv6);
  if (translated) return { limitKey: translated.toString() };
  return { limitKey: ipv6Network(address as ipaddr.IPv6, 64), networkKey: ipv6Network(address as ipaddr.IPv6, 48) };
}

/** The socket's peer; undefined when the app is called without one (`app.request` in a test). */
function socketAddress(c: Context<AppEnv>): Address | undefined {
  const bindings = c.env as Partial<HttpBindings> | undefined;
  return parseAddress(bindings?.incoming?.socket?.remoteAddress);
}

/**
 * Sets `client` on every request. The chain (in `header`, TRUSTED_PROXY_HEADER) is walked from the nearest hop back: each trusted
 * proxy is skipped, and the first address that is not one is the client (as Express's proxy-addr
 * does). A hop that does not parse stops the walk at the proxy that reported it, so a client
 * cannot pick its own address, and with it its own rate-limit bucket, by sending garbage.
 * `trustedProxies` are CIDR ranges (`10.0.0.2/32`), as `ServerConfig` holds TRUSTED_PROXIES.
 */
export function clientAddress(
  trustedProxies: readonly string[],
  header: ServerConfig['trustedProxyHeader'] = 'x-forwarded-for',
): MiddlewareHandler<AppEnv> {
  const ranges = trustedProxies.map((range) => ipaddr.parseCIDR(range));
  const isTrustedProxy = (address: Address) =>
    ranges.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits));
  return async (c, next) => {
    const peer = socketAddress(c);
    let client = peer;
    if (peer && isTrustedProxy(peer)) {
      for (const hop of reportedHops(c, header).reverse()) {
        const address = parseAddress(hop);
        if (!address) break;
        client = address;
        if (!isTrustedProxy(address)) break;
      }
    }
    c.set('client', {
      address: client?.toString() ?? 'unknown',
      ...(client ? limitKeysOf(client) : { limitKey: 'unknown' }),
      viaTrustedProxy: peer !== undefined && isTrustedProxy(peer),
    });
    await next();
  };
}
