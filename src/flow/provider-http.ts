import type * as client from 'openid-client';
import type { JsonObject } from '../providers/index.js';

/**
 * The most a provider's answer may hold, 1 MiB. Discovery documents, JWKS, token responses and
 * userinfo are a few kilobytes (Entra ID's discovery, among the largest, is under 2 KB; a JWKS of
 * a handful of RSA keys under 10 KB; GitHub's `/user/emails` a few hundred bytes per address), so
 * 1 MiB leaves room for any honest provider while a hostile or broken one cannot make portero hold
 * more than that in memory per login.
 */
export const MAX_PROVIDER_RESPONSE_BYTES = 1024 * 1024;

/** A provider's answer that was longer than {@link MAX_PROVIDER_RESPONSE_BYTES}; read no further. */
export class ProviderResponseTooLarge extends Error {
  constructor(url: string, limit: number) {
    super(`${new URL(url).origin}${new URL(url).pathname} answered more than ${limit} bytes`);
    this.name = 'ProviderResponseTooLarge';
  }
}

/** Statuses whose response has no body (the Fetch standard's null body statuses). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** The body, read to its end but never past `limit` bytes: beyond that the read is cancelled, closing the connection. */
async function readBounded(response: Response, url: string, limit: number): Promise<Uint8Array<ArrayBuffer> | null> {
  if (!response.body) return null;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > limit) {
      await reader.cancel();
      throw new ProviderResponseTooLarge(url, limit);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/**
 * The fetch openid-client makes every request to a provider with (discovery, JWKS, token, userinfo,
 * a preset's `fetchJson`): the whole answer, headers and body, must arrive within `timeoutSeconds`
 * and hold at most `limit` bytes. It is read here, so a provider that accepts the connection and
 * never answers, or drips a byte a second, is cut off at the deadline (a `TimeoutError`, which
 * openid-client reports as `OAUTH_TIMEOUT`), and one that answers gigabytes after `limit` bytes
 * (a {@link ProviderResponseTooLarge}). Either way the connection is closed and the timer cleared:
 * nothing is left behind. What it returns is the same answer, buffered.
 */
export function boundedFetch(timeoutSeconds: number, limit = MAX_PROVIDER_RESPONSE_BYTES): client.CustomFetch {
  return async (url, options) => {
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new DOMException(`no complete answer within ${timeoutSeconds} s`, 'TimeoutError')),
      timeoutSeconds * 1000,
    );
    const signal = options.signal ? AbortSignal.any([options.signal, deadline.signal]) : deadline.signal;
    try {
      const response = await fetch(url, { ...(options as RequestInit), signal });
      const body = await readBounded(response, url, limit);
      return new Response(NULL_BODY_STATUSES.has(response.status) ? null : body, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    } catch (err) {
      // Whatever the read failed with once the deadline passed, the reason is the deadline.
      if (signal.aborted) throw signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * `fetch`, but a successful JSON object from `tokenEndpoint` is given to `conform` (a preset's
 * `conformTokenResponse`) and its result answered instead; every other answer goes through as it
 * came. A body that is no JSON object is left for openid-client to refuse.
 */
export function conformingFetch(
  fetch: client.CustomFetch,
  tokenEndpoint: string,
  conform: (body: JsonObject) => JsonObject,
): client.CustomFetch {
  const target = new URL(tokenEndpoint).href;
  return async (url, options) => {
    const response = await fetch(url, options);
    if (!response.ok || new URL(url).href !== target) return response;
    let body: unknown;
    try {
      body = JSON.parse(await response.clone().text());
    } catch {
      return response;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return response;
    const headers = new Headers(response.headers);
    headers.delete('content-length');
    headers.set('content-type', 'application/json');
    return new Response(JSON.stringify(conform(body as JsonObject)), { status: response.status, statusText: response.statusText, headers });
  };
}
