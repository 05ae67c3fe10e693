import type { HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';
import ipaddr from 'ipaddr.js';
import type { ServerConfig } from '../config/types.js';
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

/** One `for=` value of RFC 7239: `192.0.2.1`, `192.0.2.1:4711`, `"[2001:db8::1]:4711"`, or `unknown`/`_hidden`. */
function forwardedFor(value: string): string {
  const unquoted = value.trim().replace(/^"(.*)"$/, '$1');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(unquoted);
  if (bracketed) return bracketed[1] as string;
  return /^[\d.]+:\d+$/.test(unquoted) ? (unquoted.split(':')[0] as string) : unquoted;
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
  if (header === 'x-forwarded-for') return value.split(',').map((hop) => hop.trim());
  return value.split(',').flatMap((element) =>
    element
      .split(';')
      .map((pair) => pair.trim())
      .filter((pair) => pair.toLowerCase().startsWith('for='))
      .map((pair) => forwardedFor(pair.slice(4))),
  );
}

/** An IPv6 address's first `bits` (a multiple of 16) as `network::/bits`. */
function ipv6Network(address: ipaddr.IPv6, bits: 48 | 64): string {
  return `${address.parts
    .slice(0, bits / 16)
    .map((part) => part.toString(16))
    .join(':')}::/${bits}`;
}

function limitKeysOf(address: Address): Pick<Client, 'limitKey' | 'networkKey'> {
  if (address.kind() === 'ipv4') return { limitKey: address.toString() };
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
