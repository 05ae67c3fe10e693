import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import { isPorteroError, PorteroError } from '../../src/errors.js';
import { classifyGrantError, classifyProfileError } from '../../src/flow/grant-errors.js';
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
    const error = classifyGrantError(cause, 'corp', 'oidc');
    expect(error).toMatchObject({ code: 'token_exchange_failed', detail: { provider: 'corp', oauth_error: 'invalid_grant', status: 400 } });
    expect(error.message).not.toContain('SECRET');
    expect(error.cause).toBe(cause);
  });

  it('AuthorizationResponseError (the callback carried the provider’s error): access_denied, or provider_error for any other', () => {
    const denied = new client.AuthorizationResponseError('authorization response', {
      cause: new URLSearchParams({ error: 'access_denied' }),
    });
    expect(classifyGrantError(denied, 'corp', 'oidc')).toMatchObject({ code: 'access_denied', detail: { oauth_error: 'access_denied' } });
    const other = new client.AuthorizationResponseError('authorization response', {
      cause: new URLSearchParams({ error: 'temporarily_unavailable' }),
    });
    expect(classifyGrantError(other, 'corp', 'oidc')).toMatchObject({
      code: 'provider_error',
      detail: { oauth_error: 'temporarily_unavailable' },
    });
  });

  it.each([
    'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
    'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
    'OAUTH_KEY_SELECTION_FAILED',
    'OAUTH_INVALID_RESPONSE',
  ])('ClientError %s from an OpenID provider: id_token_invalid, with the reason of its cause', (code) => {
    const cause = new ClientError('unexpected JWT claim value encountered', {
      code,
      cause: new Error('unexpected JWT "aud" (audience) claim value'),
    });
    expect(classifyGrantError(cause, 'corp', 'oidc')).toMatchObject({
      code: 'id_token_invalid',
      detail: { provider: 'corp', oauth_code: code, reason: 'unexpected JWT "aud" (audience) claim value' },
    });
  });

  it('ClientError from a plain OAuth 2.0 provider (no ID token), or of another code: token_exchange_failed', () => {
    const malformed = new ClientError('invalid response encountered', { code: 'OAUTH_INVALID_RESPONSE' });
    expect(classifyGrantError(malformed, 'github', 'oauth2')).toMatchObject({
      code: 'token_exchange_failed',
      detail: { oauth_code: 'OAUTH_INVALID_RESPONSE' },
    });
    const timeout = new ClientError('operation timed out', { code: 'OAUTH_TIMEOUT' });
    expect(classifyGrantError(timeout, 'corp', 'oidc')).toMatchObject({
      code: 'token_exchange_failed',
      detail: { oauth_code: 'OAUTH_TIMEOUT' },
    });
  });

  it('anything else (a refused connection): token_exchange_failed', () => {
    expect(classifyGrantError(new TypeError('fetch failed'), 'corp', 'oidc')).toMatchObject({
      code: 'token_exchange_failed',
      detail: { reason: 'fetch failed' },
    });
  });

  it('a preset’s own refusal (checkIdToken) is kept, with the provider named', () => {
    const error = classifyGrantError(idTokenRefused('tenant not allowed'), 'entra', 'oidc');
    expect(error).toMatchObject({ code: 'id_token_invalid', detail: { provider: 'entra', reason: 'tenant not allowed' } });
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
      detail: { provider: 'corp', status: 401, oauth_error: 'invalid_token' },
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
  });
});
