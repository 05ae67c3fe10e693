import type { IncomingMessage, ServerResponse } from 'node:http';
import { authSetup, refusal, type AuthOptions } from './auth.js';
import type { PorteroClaims } from '../shared/claims.js';
import { PorteroTokenError } from './errors.js';

declare global {
  // Express's own Request (from @types/express, when the service has it) gets `req.portero`, so a
  // handler behind {@link expressAuth} reads the claims without a cast. Optional: the types cannot
  // tell which routes the middleware guards.
  namespace Express {
    interface Request {
      /** The verified claims, set by {@link expressAuth} before the routes behind it run. */
      portero?: PorteroClaims;
    }
  }
}

/** A Node request once {@link expressAuth} let it through: `req.portero` holds the verified claims. */
export type PorteroRequest = IncomingMessage & { portero?: PorteroClaims };

/** An Express / Connect middleware, typed with Node's own request and response (no express dependency). */
export type NodeMiddleware = (req: PorteroRequest, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Express (or Connect, or any `(req, res, next)` framework) middleware: verifies the token from
 * `Authorization: Bearer` or the `__Host-auth_token` cookie (by the rule of
 * `Verifier.verifyRequest`, the one portero's `/auth` applies), sets `req.portero` to its claims
 * and calls `next()`. Otherwise it answers itself, as {@link porteroAuth} does: 401 JSON with
 * `WWW-Authenticate: Bearer`, or 503 when portero's keys cannot be fetched. An unexpected error
 * goes to `next(err)`. Options are checked when it is built.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { expressAuth } from 'portero/verify';
 *
 * const app = express();
 * app.use('/api', expressAuth({ issuer: 'https://auth.example.com' }));
 * app.get('/api/me', (req, res) => res.json({ user: req.portero?.sub }));
 * ```
 */
export function expressAuth(options: AuthOptions): NodeMiddleware {
  const { verifier, cookieName } = authSetup(options);
  return function porteroExpressAuth(req, res, next) {
    verifier.verifyRequest(req.headers, cookieName).then(
      (claims) => {
        req.portero = claims;
        next();
      },
      (err: unknown) => {
        if (!(err instanceof PorteroTokenError)) return next(err);
        const { status, headers, body } = refusal(err);
        res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(body));
      },
    );
  };
}
