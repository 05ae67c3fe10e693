import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { describe, expect, it } from 'vitest';
import { type ErrorCode, PorteroError, RATE_LIMITED } from '../../src/errors.js';
import { errorTable } from '../../src/http/error-table.js';
import { respondWithError, respondWithOAuthError } from '../../src/http/errors.js';
import type { AppEnv } from '../../src/http/types.js';

/** An app whose one route throws `error`, answered by `mapper`. */
function throwing(error: unknown, mapper: typeof respondWithError | typeof respondWithOAuthError) {
  const app = new Hono<AppEnv>();
  app.use(requestId());
  app.use(async (c, next) => {
    c.set('basePath', '');
    c.set('brand', { name: 'portero' });
    await next();
  });
  app.get('/', () => {
    throw error;
  });
  app.onError((err, c) => mapper(err, c));
  return app;
}

/** Every code's status and RFC 6749 error value, written out: the table must say the same. */
const EXPECTED: Record<ErrorCode, readonly [status: number, oauthError: string]> = {
  not_found: [404, 'invalid_request'],
  unknown_provider: [404, 'invalid_request'],
  bad_request: [400, 'invalid_request'],
  return_to_not_allowed: [400, 'invalid_request'],
  flow_invalid: [400, 'invalid_grant'],
  cross_site_request: [403, 'invalid_request'],
  not_allowed: [403, 'access_denied'],
  identity_header_sent: [403, 'invalid_request'],
  access_denied: [401, 'access_denied'],
  provider_error: [502, 'server_error'],
  provider_unavailable: [502, 'temporarily_unavailable'],
  provider_timeout: [504, 'temporarily_unavailable'],
  token_exchange_failed: [502, 'server_error'],
  id_token_invalid: [401, 'server_error'],
  invalid_logout_token: [400, 'invalid_request'],
  backchannel_unsupported: [404, 'invalid_request'],
  profile_unavailable: [502, 'server_error'],
  unauthenticated: [401, 'invalid_grant'],
  rate_limited: [429, 'temporarily_unavailable'],
  store_unavailable: [503, 'temporarily_unavailable'],
  internal: [500, 'server_error'],
};

describe('respondWithOAuthError (OAuth endpoints)', () => {
  it.each(Object.entries(EXPECTED))(
    'answers %s as JSON with its RFC 6749 error value and status, to a browser too',
    async (code, [status, oauthError]) => {
      const response = await throwing(new PorteroError(code as ErrorCode, 'internal words'), respondWithOAuthError).request('/', {
        headers: { accept: 'text/html' },
      });
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toContain('application/json');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(await response.json()).toEqual({ error: oauthError, error_description: errorTable[code as ErrorCode].title });
    },
  );

  it('answers anything that is not a PorteroError as server_error, 500, with nothing of it shown', async () => {
    const response = await throwing(new Error('SECRET stack detail'), respondWithOAuthError).request('/');
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(JSON.parse(body)).toEqual({ error: 'server_error', error_description: errorTable.internal.title });
    expect(body).not.toContain('SECRET');
  });
});

describe('respondWithError (portero’s own routes)', () => {
  it('answers error = portero’s own code, never the OAuth value', async () => {
    const response = await throwing(new PorteroError('flow_invalid', 'x'), respondWithError).request('/', {
      headers: { accept: 'application/json' },
    });
    expect(await response.json()).toMatchObject({ error: 'flow_invalid' });
  });
});

describe('a refusal to try later (rate_limited)', () => {
  const limited = new PorteroError(RATE_LIMITED, 'too many logins from one address', { retryAfter: 12.2 });

  it('is a 429 page with a way back and Retry-After in whole seconds, rounded up', async () => {
    const response = await throwing(limited, respondWithError).request('/');
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('13');
    const page = await response.text();
    expect(page).toContain('Too many attempts');
    expect(page).toContain('Start again');
  });

  it('is 429 JSON for API clients and for OAuth endpoints, with Retry-After', async () => {
    const json = await throwing(limited, respondWithError).request('/', { headers: { accept: 'application/json' } });
    expect(json.status).toBe(429);
    expect(json.headers.get('retry-after')).toBe('13');
    expect(await json.json()).toMatchObject({ error: 'rate_limited' });
    const oauth = await throwing(limited, respondWithOAuthError).request('/');
    expect(oauth.status).toBe(429);
    expect(oauth.headers.get('retry-after')).toBe('13');
    expect(await oauth.json()).toMatchObject({ error: 'temporarily_unavailable' });
  });

  it('never says less than one second', async () => {
    const soon = new PorteroError(RATE_LIMITED, 'x', { retryAfter: 0.01 });
    expect((await throwing(soon, respondWithError).request('/')).headers.get('retry-after')).toBe('1');
  });

  it('other errors carry no Retry-After', async () => {
    expect((await throwing(new PorteroError('flow_invalid', 'x'), respondWithError).request('/')).headers.has('retry-after')).toBe(false);
  });
});
