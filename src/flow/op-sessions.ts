import type { IncomingMessage } from 'node:http';
import type { KoaContextWithOIDC, default as Provider } from 'oidc-provider';
import { storeKeys } from '../store/keys.js';
import type { KeyValueStore } from '../store/types.js';

/** The portero session a browser request to the OpenID Provider came with, as the HTTP layer resolved it. */
export interface PorteroSessionRef {
  readonly sid: string;
  readonly sub: string;
  /** The upstream provider's id, as portero's session names it. */
  readonly provider: string;
  /** When the user signed in at the upstream provider (seconds): the OpenID Provider's `auth_time`. */
  readonly authTime: number;
  /** When the session began (ms): what tells a sign-in again from an older session (`prompt=login`). */
  readonly created: number;
}

/**
 * Set on a request before it is handed to oidc-provider: the portero session it carries (`null`:
 * none). Absent on requests whose provider session does not matter (the token endpoint).
 */
const PORTERO_SESSION = Symbol('portero session');

type RequestWithSession = IncomingMessage & { [PORTERO_SESSION]?: PorteroSessionRef | null };

export function attachPorteroSession(request: IncomingMessage, session: PorteroSessionRef | null): void {
  (request as RequestWithSession)[PORTERO_SESSION] = session;
}

export function porteroSessionOf(request: IncomingMessage): PorteroSessionRef | null | undefined {
  return (request as RequestWithSession)[PORTERO_SESSION];
}

/** The OpenID Provider's sessions (their `uid`) begun on each portero session: what a sign-out elsewhere ends. */
export class OpSessionLinks {
  readonly #store: KeyValueStore;
  readonly #ttl: number;

  constructor(store: KeyValueStore, ttl: number) {
    this.#store = store;
    this.#ttl = ttl;
  }

  link(porteroSid: string, opSessionUid: string): Promise<void> {
    return this.#store.addMember(storeKeys.opSessionsOf(porteroSid), opSessionUid, this.#ttl);
  }

  uidsOf(porteroSid: string): Promise<string[]> {
    return this.#store.members(storeKeys.opSessionsOf(porteroSid));
  }

  async forget(porteroSid: string): Promise<void> {
    await this.#store.delete(storeKeys.opSessionsOf(porteroSid));
  }
}

/** The field of the provider's Session that names the portero session it mirrors. */
const PORTERO_FIELD = 'portero';

type ProviderSession = InstanceType<Provider['Session']> & { [PORTERO_FIELD]?: string };

/** What the provider's session keeps per app: the sid its tokens carry now, and the sids of the codes it was given. */
export interface AppAuthorization {
  sid?: string;
  grantId?: string;
  /**
   * The sid of each code the app was given (a session mirrors another portero session after a
   * sign-in again, and its apps' sids change with it): each is an app session a logout token must name.
   */
  given?: string[];
}

/** Enough for any browser's sign-ins again within one session's life. */
const MAX_GIVEN_SIDS = 10;

/** The sids a logout token must go to the app with: each it was given (its current one, for a record from before they were kept). */
export const sidsGiven = (authorization: AppAuthorization): string[] => {
  const given = authorization.given ?? [];
  return given.length > 0 ? given : authorization.sid ? [authorization.sid] : [];
};

/** Notes the sid of the code (and ID token) the app was just given. */
function noteSidGiven(session: ProviderSession, clientId: string): void {
  const authorization = session.authorizations?.[clientId] as AppAuthorization | undefined;
  if (!authorization?.sid || authorization.given?.includes(authorization.sid)) return;
  authorization.given = [...(authorization.given ?? []), authorization.sid].slice(-MAX_GIVEN_SIDS);
}

/** Every client of the session names portero's session id as its `sid` from now on (ID tokens, logout tokens). */
function nameSidEverywhere(session: ProviderSession, sid: string): void {
  for (const authorization of Object.values(session.authorizations ?? {})) authorization.sid = sid;
}

/**
 * Makes the provider's own session (its `_session` cookie) a mirror of portero's, so that there is
 * one set of sessions: oidc-provider decides `prompt=none`, `max_age` and single sign-on from its
 * session before any interaction runs, so that session must already say what portero's says.
 * Three changes to the library's models, each the smallest that does it:
 * - `Session.get` (what every browser route loads its session with) compares the provider's
 *   session with the portero session the request came with (`PORTERO_SESSION`): none at portero,
 *   none at the provider (for this request: it is set aside, never destroyed); another user's, a
 *   fresh one; the same user's, it is bound to the current portero session. A fresh session is not
 *   `new`, so oidc-provider's own session middleware saves it and sets its cookie.
 * - `Session.IN_PAYLOAD` keeps one more field, the portero session id, in the store.
 * - `ensureClientContainer` names portero's sid as each client's `sid`, rather than a random one,
 *   so an app's ID token and logout token carry the sid portero's own token has. Each sid an app
 *   was given is noted (`given`, at `authorization.success`), since a session that mirrors a newer
 *   portero session after a sign-in again names a new one, and the app must be sent a logout token
 *   for each.
 */
export function mirrorPorteroSessions(provider: Provider, links: OpSessionLinks): void {
  const Session = provider.Session as unknown as {
    get(ctx: { req: IncomingMessage }): Promise<ProviderSession>;
    readonly IN_PAYLOAD: string[];
    new (payload?: object): ProviderSession;
    prototype: ProviderSession & { ensureClientContainer(clientId: string): void };
  };
  const inPayload = Session.IN_PAYLOAD;
  Object.defineProperty(Session, 'IN_PAYLOAD', { get: () => [...inPayload, PORTERO_FIELD] });

  const ensureClientContainer = Session.prototype.ensureClientContainer;
  Session.prototype.ensureClientContainer = function (this: ProviderSession, clientId: string) {
    const sid = this[PORTERO_FIELD];
    if (sid && !this.sidFor(clientId)) this.sidFor(clientId, sid);
    ensureClientContainer.call(this, clientId);
  };

  provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
    const { session, client } = ctx.oidc;
    if (session && client) noteSidGiven(session as ProviderSession, client.clientId);
  });

  const get = Session.get.bind(Session);
  Session.get = async (ctx) => {
    const session = await get(ctx);
    const portero = porteroSessionOf(ctx.req);
    if (portero === undefined) return session;
    // A provider session set aside (no portero session here, or another user's) is left in the
    // store, never destroyed: its portero session may still live (a second token cookie planted
    // beside it hides it, another user signed in on this browser), and the end of that session,
    // which finds it through the links, is what sends its apps their logout tokens.
    if (portero === null) return session.accountId ? new Session() : session;
    if (session.accountId === portero.sub) {
      if (session[PORTERO_FIELD] !== portero.sid) {
        // The same user signed in again (prompt=login, max_age): this session now mirrors the new one.
        session[PORTERO_FIELD] = portero.sid;
        session.loginTs = portero.authTime;
        nameSidEverywhere(session, portero.sid);
        await links.link(portero.sid, session.uid);
      }
      return session;
    }
    const fresh = new Session({});
    fresh.loginAccount({ accountId: portero.sub, loginTs: portero.authTime });
    fresh[PORTERO_FIELD] = portero.sid;
    await links.link(portero.sid, fresh.uid);
    return fresh;
  };
}

/** The portero session id a provider session mirrors. */
export const porteroSidOf = (session: object | undefined): string | undefined => (session as ProviderSession | undefined)?.[PORTERO_FIELD];
