import type { RequestIdVariables } from 'hono/request-id';
import type { PorteroError } from '../errors.js';

/** What handlers share through the Hono context. */
export type AppEnv = {
  Variables: RequestIdVariables & {
    /** Set by the error mapper, read by the request log. */
    error?: PorteroError;
    /** PUBLIC_URL's path, for links in pages ('' when PUBLIC_URL has none). */
    basePath: string;
  };
};
