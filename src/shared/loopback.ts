/**
 * Hosts that plain http may reach: `localhost`, `127.0.0.0/8` and `[::1]`, where traffic never
 * leaves the machine. Not `*.localhost`: browsers resolve those to loopback themselves, but Node
 * asks the system resolver, which may send them to DNS and so to anyone's address.
 */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** An http(s) URL that may be fetched: https, or plain http on a loopback host. */
export function isHttpAllowed(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}
