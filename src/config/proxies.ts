import ipaddr from 'ipaddr.js';
import type { EnvReader } from './reader.js';
import type { ServerConfig } from './types.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * The widest ranges a proxy list may name: 10.0.0.0/8 and fc00::/7 (unique local) are real
 * networks of proxies; 0.0.0.0/1 with 128.0.0.0/1 is every address, written so as to pass a check
 * for /0 alone.
 */
const MIN_IPV4_PREFIX = 8;
const MIN_IPV6_PREFIX = 7;

/**
 * An address or CIDR range in the forms a proxy's address is written in: IPv6, or IPv4 as four
 * decimal parts. ipaddr.js alone would also read `127.1` or `2130706433` as 127.0.0.1, which the
 * client-address walk refuses in headers: one reading of an address, here and there.
 */
function parseRange(entry: string): Range {
  const [address, bits] = entry.split('/') as [string, string | undefined];
  if (!ipaddr.IPv6.isValid(address) && !ipaddr.IPv4.isValidFourPartDecimal(address)) throw new Error('not an address');
  const parsed = ipaddr.parse(address);
  const max = parsed.kind() === 'ipv4' ? 32 : 128;
  if (bits === undefined) return [parsed, max];
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) throw new Error('not a prefix length');
  return ipaddr.parseCIDR(entry);
}

/**
 * `::ffff:10.0.0.2` (how a dual-stack socket shows an IPv4 peer) as `10.0.0.2`: portero compares
 * peers as IPv4, so a mapped entry kept as IPv6 would silently never match.
 */
function asIPv4IfMapped([address, bits]: Range): Range {
  if (address.kind() === 'ipv6' && bits >= 96 && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [address, bits];
}

/**
 * TRUSTED_PROXIES: addresses (`10.0.0.5`, `::1`) and CIDR ranges (`10.0.0.0/8`, `fd00::/8`), as
 * `address/bits`. A host name, `10.0.0.0/33` or `256.1.1.1` is refused here rather than silently
 * never matching, and `0.0.0.0/0` (everyone a proxy, so any client names its own address) too.
 */
function trustedProxies(reader: EnvReader): string[] {
  const raw = reader.text('TRUSTED_PROXIES');
  if (!raw) return [];
  const ranges: string[] = [];
  for (const entry of raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    let range: Range;
    try {
      range = asIPv4IfMapped(parseRange(entry));
    } catch {
      reader.problem(`TRUSTED_PROXIES entry ${JSON.stringify(entry)} is not an IP address or CIDR range (like 10.0.0.0/8 or 127.0.0.1)`);
      continue;
    }
    if (range[1] < (range[0].kind() === 'ipv4' ? MIN_IPV4_PREFIX : MIN_IPV6_PREFIX)) {
      reader.problem(
        `TRUSTED_PROXIES entry ${JSON.stringify(entry)} trusts a range so wide that any client could name its own address: list your proxies' addresses or ranges`,
      );
      continue;
    }
    ranges.push(`${range[0].toString()}/${range[1]}`);
  }
  return ranges;
}

/**
 * The proxies portero believes, and TRUSTED_PROXY_HEADER: the one header they write the client
 * into. Only that one is read: a proxy that writes `Forwarded` passes a client's own
 * `X-Forwarded-For` along untouched (and the other way round), so reading whichever is present
 * would let the client pick its address.
 */
export function proxies(reader: EnvReader): Pick<ServerConfig, 'trustedProxies' | 'trustedProxyHeader'> {
  return {
    trustedProxies: Object.freeze(trustedProxies(reader)),
    trustedProxyHeader: reader.oneOf('TRUSTED_PROXY_HEADER', ['x-forwarded-for', 'forwarded'], 'x-forwarded-for'),
  };
}
