import ipaddr from 'ipaddr.js';
import type { EnvReader } from './reader.js';
import type { RateLimitConfig, RateLimitRule } from './types.js';

/**
 * The defaults a person never meets and a script does: an office behind one NAT address where a
 * hundred people sign in within a minute passes; a flood of hundreds a second is refused after
 * the first 120, so it writes at most 120 flows a minute to the store.
 */
export const DEFAULT_RATE_LIMITS: Required<RateLimitConfig> = {
  login: { points: 120, duration: 60 },
  callback: { points: 120, duration: 60 },
};

const RULE = /^(\d+)\/(\d+)s$/;

/** `<count>/<seconds>s` (`120/60s`), or `off`. */
function rateLimit(reader: EnvReader, name: string, fallback: RateLimitRule): RateLimitRule | undefined {
  const raw = reader.text(name);
  if (raw === undefined) return fallback;
  if (raw.toLowerCase() === 'off') return undefined;
  const match = RULE.exec(raw);
  const points = Number(match?.[1]);
  const duration = Number(match?.[2]);
  if (!match || points < 1 || points > 1_000_000 || duration < 1 || duration > 86_400) {
    reader.problem(
      `${name} must be <count>/<seconds>s (like 120/60s; count 1 to 1000000, seconds 1 to 86400) or off, got ${JSON.stringify(raw)}`,
    );
    return fallback;
  }
  return { points, duration };
}

export function rateLimits(reader: EnvReader): RateLimitConfig {
  const login = rateLimit(reader, 'RATE_LIMIT_LOGIN', DEFAULT_RATE_LIMITS.login);
  const callback = rateLimit(reader, 'RATE_LIMIT_CALLBACK', DEFAULT_RATE_LIMITS.callback);
  return { ...(login ? { login } : {}), ...(callback ? { callback } : {}) };
}

const wholeAddress = (address: ipaddr.IPv4 | ipaddr.IPv6): [ipaddr.IPv4 | ipaddr.IPv6, number] => [
  address,
  address.kind() === 'ipv4' ? 32 : 128,
];

/**
 * `::ffff:10.0.0.2` (how a dual-stack socket shows an IPv4 peer) as `10.0.0.2`: portero compares
 * peers as IPv4, so a mapped entry kept as IPv6 would silently never match.
 */
function asIPv4IfMapped([address, bits]: [ipaddr.IPv4 | ipaddr.IPv6, number]): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  if (address.kind() === 'ipv6' && bits >= 96 && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [address, bits];
}

/**
 * TRUSTED_PROXIES: addresses (`10.0.0.5`, `::1`) and CIDR ranges (`10.0.0.0/8`, `fd00::/8`), as
 * `address/bits`. Parsed by ipaddr.js, so `10.0.0.0/33`, `256.1.1.1` or a host name are refused
 * here rather than silently never matching, and `0.0.0.0/0` (everyone a proxy) too.
 */
export function trustedProxies(reader: EnvReader): string[] {
  const raw = reader.text('TRUSTED_PROXIES');
  if (!raw) return [];
  const ranges: string[] = [];
  for (const entry of raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
    try {
      range = asIPv4IfMapped(entry.includes('/') ? ipaddr.parseCIDR(entry) : wholeAddress(ipaddr.parse(entry)));
    } catch {
      reader.problem(`TRUSTED_PROXIES entry ${JSON.stringify(entry)} is not an IP address or CIDR range (like 10.0.0.0/8 or 127.0.0.1)`);
      continue;
    }
    if (range[1] === 0) {
      reader.problem(
        `TRUSTED_PROXIES entry ${JSON.stringify(entry)} trusts every address, so any client could name its own: list your proxies' addresses or ranges`,
      );
      continue;
    }
    ranges.push(`${range[0].toString()}/${range[1]}`);
  }
  return ranges;
}

/** The headers a proxy may report the client in; see TRUSTED_PROXY_HEADER. */
export const PROXY_HEADERS = ['x-forwarded-for', 'forwarded'] as const;
export type ProxyHeader = (typeof PROXY_HEADERS)[number];

/**
 * TRUSTED_PROXY_HEADER: the one header the trusted proxies write the client into. Only that one is
 * read: a proxy that writes `Forwarded` passes a client's own `X-Forwarded-For` along untouched
 * (and the other way round), so reading whichever is present would let the client pick its address.
 */
export function trustedProxyHeader(reader: EnvReader): ProxyHeader {
  const raw = reader.text('TRUSTED_PROXY_HEADER')?.toLowerCase() ?? 'x-forwarded-for';
  if ((PROXY_HEADERS as readonly string[]).includes(raw)) return raw as ProxyHeader;
  reader.problem(`TRUSTED_PROXY_HEADER must be ${PROXY_HEADERS.join(' or ')}, got ${JSON.stringify(raw)}`);
  return 'x-forwarded-for';
}
