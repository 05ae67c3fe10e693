import type { Clock } from '../clock.js';
import type { FlowConfig, ServerConfig, TokenConfig } from '../config/types.js';
import type { LoginDeps } from '../flow/login.js';
import type { SessionLifecycle } from '../flow/session-lifecycle.js';
import type { KeyValueStore } from '../store/types.js';
import type { KeyRing } from '../tokens/key-ring.js';
import type { Sessions } from '../tokens/sessions.js';
import type { PorteroCookies } from './cookies.js';
import type { ClientLimit } from './rate-limit.js';

/**
 * What the route modules are given, built once by `createApp`. Here, in `src/http`, rather than
 * beside `createApp`, so that the routes never import the module that imports them.
 */
export interface HttpDeps {
  readonly server: ServerConfig;
  readonly clock: Clock;
  readonly tokens: Pick<TokenConfig, 'issuer' | 'ttl'>;
  /** For return_to outside a login (`/logout`, `/auth`'s sign-in address). */
  readonly flow: FlowConfig;
  /** For `/readyz` (whether the store answers) and back-channel logout (the logout tokens already used). */
  readonly store: KeyValueStore;
  /** The keys in use, read at each request: a reload of JWT_KEYS replaces them. */
  readonly keys: KeyRing;
  /** Whether the process is draining after SIGTERM: `/readyz` answers 503. */
  readonly draining: () => boolean;
  readonly login: LoginDeps;
  readonly sessions: Sessions;
  /** Sessions in the store: begun at the callback, renewed by `/refresh` and `/auth`, ended by the logouts. */
  readonly lifecycle: SessionLifecycle;
  readonly cookies: PorteroCookies;
  /** The abuse limits of the routes that start or finish a login, and of `/refresh`; absent when set to `off`. */
  readonly limits: { readonly login?: ClientLimit; readonly callback?: ClientLimit; readonly refresh?: ClientLimit };
}
