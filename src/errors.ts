/**
 * Every failure that portero reports to a person or an API client carries one of these codes.
 * The codes are stable: downstream clients may switch on them (`{"error": "flow_invalid"}`).
 * What each code means over HTTP (status, page text, log level) lives in one table,
 * `src/http/error-table.ts`; nothing below `src/http` knows about status codes.
 */
export type ErrorCode =
  | 'not_found'
  | 'unknown_provider'
  | 'bad_request'
  | 'return_to_not_allowed'
  | 'flow_invalid'
  | 'access_denied'
  | 'provider_error'
  | 'provider_unavailable'
  | 'token_exchange_failed'
  | 'id_token_invalid'
  | 'profile_unavailable'
  | 'unauthenticated'
  | 'store_unavailable'
  | 'internal';

export interface PorteroErrorOptions {
  cause?: unknown;
  /** Safe, non-secret facts for the log line (never tokens, codes or cookie values). */
  detail?: Record<string, string | number | boolean | undefined>;
}

export class PorteroError extends Error {
  readonly code: ErrorCode;
  readonly detail: Record<string, string | number | boolean | undefined>;

  constructor(code: ErrorCode, message: string, options: PorteroErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PorteroError';
    this.code = code;
    this.detail = options.detail ?? {};
  }
}

export function isPorteroError(err: unknown): err is PorteroError {
  return err instanceof PorteroError;
}
