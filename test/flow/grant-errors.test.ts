import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import { isPorteroError, PorteroError } from '../../src/errors.js';
import { classifyDiscoveryError, classifyGrantError, classifyProfileError } from '../../src/flow/grant-errors.js';
import { idTokenRefused, profileRefused } from '../../src/providers/index.js';

// openid-client's failures, one test per class, as its functions throw them (the flow tests meet
// each for real: a refused code, a bad ID token, a userinfo endpoint refusing the token).

const ClientError = client.ClientError as unknown as new (
  message: string,
  options: { code?: string; cause?: unknown },
) => client.ClientError;
const response = (status: number) => new Response(null, { status });

describe('classifyGrantError', () => {
  it('ResponseBodyError (the token endpoint answered an OAuth error): token_exchange_failed, the error kept for the log', () => {
    const cause = new client.ResponseBodyError('server responded with an error in the response body', {
      cause: { error: 'invalid_grant', error_description: 'SECRET provider detail' },
      response: response(400),
    });
    const error = classifyGrantError(cause, 'corp');
    expect(error).toMatchObject({
      code: 'token_exchange_failed',
      detail: { provider: 'corp', oauth_error: 'invalid_grant', provider_status: 400 },
    });
    expect(error.message).not.toContain('SECRET');
    expect(error.cause).toBe(cause);
  });

  it('AuthorizationResponseError (the callback carried the provider’s error): access_denied, or provider_error for any other', () => {
    const denied = new client.AuthorizationResponseError('authorization response', {
      cause: new URLSearchParams({ error: 'access_denied' }),
    });
    expect(classifyGrantError(denied, 'corp')).toMatchObject({ code: 'access_denied', detail: { oauth_error: 'access_denied' } });
    const other = new client.AuthorizationResponseError('authorization response', {
      cause: new URLSearchParams({ error: 'temporarily_unavailable' }),
    });
    expect(classifyGrantError(other, 'corp')).toMatchObject({
      code: 'provider_error',
      detail: { oauth_error: 'temporarily_unavailable' },
    });
  });

  it.each(['OAUTH_JWT_CLAIM_COMPARISON_FAILED', 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED', 'OAUTH_KEY_SELECTION_FAILED'])(
    'ClientError %s (the ID token does not hold up): id_token_invalid, with the reason underneath',
    (code) => {
      const cause = new ClientError('unexpected JWT claim value encountered', {
        code,
        cause: new Error('unexpected JWT "aud" (audience) claim value'),
      });
      expect(classifyGrantError(cause, 'corp')).toMatchObject({
        code: 'id_token_invalid',
        detail: { provider: 'corp', oauth_code: code, reason: 'unexpected JWT "aud" (audience) claim value' },
      });
    },
  );

  // oauth4webapi's error underneath carries what it was looking at: the JWT's parts, or the body.
  const invalidResponse = (message: string, looked: unknown) =>
    new ClientError('invalid response encountered', {
      code: 'OAUTH_INVALID_RESPONSE',
      cause: Object.assign(new Error(message), { cause: looked }),
    });

  it.each([
    ['a claim missing', { claims: { iss: 'x' } }],
    ['an unexpected typ header', { header: { alg: 'RS256', typ: 'at+jwt' } }],
    ['a signature that does not verify', { key: {}, data: new Uint8Array(), signature: new Uint8Array(), algorithm: {} }],
    ['not a JWT at all', 'not.a.jwt'],
  ])('ClientError OAUTH_INVALID_RESPONSE about the ID token (%s): id_token_invalid', (_what, looked) => {
    expect(classifyGrantError(invalidResponse('JWT problem', looked), 'corp')).toMatchObject({
      code: 'id_token_invalid',
      detail: { reason: 'JWT problem' },
    });
  });

  it('ClientError OAUTH_INVALID_RESPONSE about the answer itself (no access token, no iss), or of another code: token_exchange_failed', () => {
    const noAccessToken = invalidResponse('"response" body "access_token" property must be a string', { body: { token_type: 'bearer' } });
    expect(classifyGrantError(noAccessToken, 'github')).toMatchObject({
      code: 'token_exchange_failed',
      detail: { oauth_code: 'OAUTH_INVALID_RESPONSE', reason: '"response" body "access_token" property must be a string' },
    });
    const noIss = invalidResponse('response parameter "iss" (issuer) missing', { parameters: new URLSearchParams() });
    expect(classifyGrantError(noIss, 'corp')).toMatchObject({ code: 'token_exchange_failed' });
  });

  it('ClientError OAUTH_TIMEOUT (no whole answer within PROVIDER_TIMEOUT): provider_timeout', () => {
    const timeout = new ClientError('operation timed out', { code: 'OAUTH_TIMEOUT', cause: new DOMException('no answer', 'TimeoutError') });
    expect(classifyGrantError(timeout, 'corp')).toMatchObject({
      code: 'provider_timeout',
      detail: { provider: 'corp', reason: 'no answer' },
    });
  });

  it('anything else (a refused connection): token_exchange_failed', () => {
    expect(classifyGrantError(new TypeError('fetch failed'), 'corp')).toMatchObject({
      code: 'token_exchange_failed',
      detail: { reason: 'fetch failed' },
    });
  });

  it('a preset’s own refusal (checkIdToken) is kept, with the provider named', () => {
    const error = classifyGrantError(idTokenRefused('tenant not allowed'), 'entra');
    expect(error).toMatchObject({ code: 'id_token_invalid', detail: { provider: 'entra', reason: 'tenant not allowed' } });
  });
});

describe('classifyDiscoveryError', () => {
  it('a timeout is provider_timeout, anything else provider_unavailable, each with when to try again', () => {
    const timeout = new ClientError('operation timed out', { code: 'OAUTH_TIMEOUT' });
    expect(classifyDiscoveryError(timeout, 'corp', 5)).toMatchObject({
      code: 'provider_timeout',
      retryAfter: 5,
      detail: { provider: 'corp' },
    });
    expect(classifyDiscoveryError(new TypeError('fetch failed'), 'corp', 2)).toMatchObject({
      code: 'provider_unavailable',
      retryAfter: 2,
      detail: { provider: 'corp', reason: 'fetch failed' },
    });
  });
});

describe('classifyProfileError', () => {
  it('WWWAuthenticateChallengeError (userinfo refused the access token): profile_unavailable, with the challenge’s error', () => {
    const challenge = { scheme: 'bearer' as const, parameters: { error: 'invalid_token' } };
    const cause = new client.WWWAuthenticateChallengeError('server responded with a challenge', {
      cause: [challenge],
      response: response(401),
    });
    expect(classifyProfileError(cause, 'corp')).toMatchObject({
      code: 'profile_unavailable',
      detail: { provider: 'corp', provider_status: 401, oauth_code: 'OAUTH_WWW_AUTHENTICATE_CHALLENGE', oauth_error: 'invalid_token' },
    });
  });

  it('a preset’s refusal keeps its reason; any other failure is profile_unavailable', () => {
    expect(classifyProfileError(profileRefused('GitHub /user response has no id'), 'github')).toMatchObject({
      code: 'profile_unavailable',
      detail: { provider: 'github', reason: 'GitHub /user response has no id' },
    });
    const other = classifyProfileError(new SyntaxError('Unexpected token < in JSON'), 'github');
    expect(isPorteroError(other, 'profile_unavailable')).toBe(true);
    expect(other).toBeInstanceOf(PorteroError);
    const timeout = new ClientError('operation timed out', { code: 'OAUTH_TIMEOUT' });
    expect(classifyProfileError(timeout, 'github')).toMatchObject({ code: 'provider_timeout', detail: { provider: 'github' } });
  });
});
