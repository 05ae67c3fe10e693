import type { JWTPayload } from 'jose';
import { type FinishedLogin, finishLogin, startLogin } from '../../src/flow/login.js';
import { flowDepsFor } from '../support/flow.js';
import type { MockOidcProvider, MockUser } from '../support/mock-oidc.js';

/**
 * What a provider puts in its ID token: the claims every ID token has, those of `kept`, and
 * `extra` (claims of the ID token only); the user's other claims stay in userinfo alone.
 */
export function idTokenWith(kept: readonly string[], extra: Record<string, unknown> = {}) {
  const always = ['iss', 'aud', 'sub', 'iat', 'exp', 'nonce'];
  return (claims: JWTPayload): JWTPayload => ({
    ...Object.fromEntries(Object.entries(claims).filter(([name]) => always.includes(name) || kept.includes(name))),
    ...extra,
  });
}

/** One sign-in through the flow, provider `id` configured by `env`, as `user` at `idp`, whose ID token `idToken` shapes. */
export async function signInAt(
  idp: MockOidcProvider,
  id: string,
  env: Record<string, string>,
  user: MockUser,
  idToken?: (claims: JWTPayload) => JWTPayload,
): Promise<FinishedLogin> {
  const deps = flowDepsFor(env);
  const started = await startLogin(deps, id, undefined);
  idp.idTokenOverride = idToken;
  try {
    return await finishLogin(deps, id, started.flowId, idp.authorize(started.authorizationUrl, user));
  } finally {
    idp.idTokenOverride = undefined;
  }
}
