import { describe, expect, it } from 'vitest';
import { FLOW_INVALID, isPorteroError, PorteroError, RATE_LIMITED, UNAUTHENTICATED } from '../src/errors.js';

describe('isPorteroError', () => {
  it('tells a PorteroError, and one of a given code, from anything else', () => {
    const error = new PorteroError(FLOW_INVALID, 'the login expired');
    expect(isPorteroError(error)).toBe(true);
    expect(isPorteroError(error, FLOW_INVALID)).toBe(true);
    expect(isPorteroError(error, UNAUTHENTICATED)).toBe(false);
    expect(isPorteroError(Object.assign(new Error('look-alike'), { code: FLOW_INVALID }), FLOW_INVALID)).toBe(false);
    expect(isPorteroError(undefined)).toBe(false);
  });

  it('keeps the cause, the safe detail and when to try again', () => {
    const cause = new Error('underneath');
    const error = new PorteroError(RATE_LIMITED, 'too many logins', { cause, detail: { limit: 'login' }, retryAfter: 7 });
    expect(error).toMatchObject({ code: 'rate_limited', detail: { limit: 'login' }, retryAfter: 7, cause });
    expect(new PorteroError(FLOW_INVALID, 'x')).toMatchObject({ detail: {}, retryAfter: undefined });
  });
});
