import { HttpResponse, http } from 'msw';
import type { SetupServer } from 'msw/node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ACCESS_DENIED,
  FLOW_INVALID,
  type ID_TOKEN_INVALID,
  type PROFILE_UNAVAILABLE,
  PROVIDER_UNAVAILABLE,
  TOKEN_EXCHANGE_FAILED,
} from '../../src/errors.js';
import { finishLogin, type LoginDeps, startLogin } from '../../src/flow/login.js';
import type { Profile } from '../../src/providers/index.js';
import { flowDepsFor, rejection } from '../support/flow.js';

/** Who signs in, in every preset's terms. */
export interface ContractUser {
  readonly subject: string;
  readonly email: string;
  readonly name: string;
  readonly username: string;
}

/** A preset and the mock of its provider, as the contract drives them. */
export interface ProviderHarness {
  /** The provider id its variables configure (`PROVIDER_<ID>_*`), as in `/callback/<id>`. */
  readonly id: string;
  /** The operator's variables for it. */
  readonly env: Record<string, string>;
  readonly protocol: 'oidc' | 'oauth2';
  /**
   * Whether the provider does PKCE, and (OIDC) puts the login's `nonce` into its ID tokens; both by
   * default. One that cannot (LinkedIn) must be sent neither.
   */
  readonly pkce?: boolean;
  readonly nonce?: boolean;
  /** Origin and path of the authorization endpoint the browser must be sent to. */
  readonly authorizationEndpoint: string;
  readonly clientId: string;
  /** The `scope` it requests when the operator names none. */
  readonly scope: string;
  /** `form_post` for a provider that posts its answer (Apple); it is asked for with `response_mode`. */
  readonly responseMode?: 'form_post';
  /**
   * Where the profile it makes of a user differs from the subject, a verified email, the name and
   * the user name: a provider that vouches for no address (Facebook) or has no user names.
   */
  readonly profileQuirks?: Partial<Profile>;
  /** The user signs in and approves at the provider: the callback's parameters (at once on a mock, or once a real server's pages are answered). */
  approve(authorizationUrl: URL, user: ContractUser): URLSearchParams | Promise<URLSearchParams>;
  /** How many code exchanges the provider has seen. */
  exchanges(): number;
  /** The provider refuses every code from now on, with `invalid_grant` or its own {@link refusal}. */
  refuseExchange(): void;
  /** The OAuth `error` its refusal carries, when not `invalid_grant` (GitHub's `bad_verification_code`). */
  readonly refusal?: string;
  /** The provider answers, from now on, with data portero must not trust; the code the sign-in must fail with. */
  corrupt(): typeof ID_TOKEN_INVALID | typeof PROFILE_UNAVAILABLE;
  /** Undoes `refuseExchange` and `corrupt`. */
  reset(): void;
}

const GRACE: ContractUser = { subject: '583231', email: 'grace@example.com', name: 'Grace Hopper', username: 'grace' };

/**
 * What every preset does alike, whatever its quirks: the same authorization request, the same
 * sign-in, and the same refusals of what cannot be trusted. Each preset's test file runs it with
 * its harness and the msw server its mock is on (Hono's `common.case.test.ts` pattern).
 */
export function providerContract(name: string, harness: ProviderHarness, msw: SetupServer): void {
  describe(`provider contract: ${name}`, () => {
    let deps: LoginDeps;
    beforeEach(() => {
      deps = flowDepsFor(harness.env);
    });
    afterEach(() => {
      harness.reset();
      msw.resetHandlers();
    });

    async function signIn(user = GRACE) {
      const started = await startLogin(deps, harness.id, '/welcome');
      return finishLogin(deps, harness.id, started.flowId, await harness.approve(started.authorizationUrl, user));
    }

    it('sends the browser to its authorization endpoint with the client id, the callback, PKCE S256, state and its scopes', async () => {
      const { authorizationUrl, state } = await startLogin(deps, harness.id, undefined);
      expect(authorizationUrl.origin + authorizationUrl.pathname).toBe(harness.authorizationEndpoint);
      const params = authorizationUrl.searchParams;
      expect(params.get('client_id')).toBe(harness.clientId);
      expect(params.get('redirect_uri')).toBe(`https://gateway.test/callback/${harness.id}`);
      expect(params.get('response_type')).toBe('code');
      if (harness.pkce === false) {
        expect([params.has('code_challenge'), params.has('code_challenge_method')]).toEqual([false, false]);
      } else {
        expect(params.get('code_challenge_method')).toBe('S256');
        expect(params.get('code_challenge')).toMatch(/^[\w-]{43}$/);
      }
      expect(params.get('state')).toBe(state);
      expect(params.get('scope')).toBe(harness.scope);
      // A nonce binds the ID token to this login; a plain OAuth 2.0 provider has no ID token.
      expect(params.has('nonce')).toBe(harness.protocol === 'oidc' && harness.nonce !== false);
      expect(params.has('client_secret')).toBe(false);
      expect(params.get('response_mode')).toBe(harness.responseMode ?? null);
    });

    it('signs the user in: the subject, a verified email, the name and the user name (as far as it has them), then return_to', async () => {
      const finished = await signIn();
      expect(finished.provider.id).toBe(harness.id);
      expect(finished.returnTo).toBe('https://gateway.test/welcome');
      const { subject, email, emailVerified, name, preferredUsername } = finished.profile;
      expect({ subject, email, emailVerified, name, preferredUsername }).toEqual({
        subject: GRACE.subject,
        email: GRACE.email,
        emailVerified: true,
        name: GRACE.name,
        preferredUsername: GRACE.username,
        ...harness.profileQuirks,
      });
    });

    it('consumes the flow once: a replayed callback is refused before a second code exchange', async () => {
      const started = await startLogin(deps, harness.id, undefined);
      const callback = await harness.approve(started.authorizationUrl, GRACE);
      await finishLogin(deps, harness.id, started.flowId, callback);
      const exchanges = harness.exchanges();
      const error = await rejection(finishLogin(deps, harness.id, started.flowId, callback));
      expect(error.code).toBe(FLOW_INVALID);
      expect(harness.exchanges()).toBe(exchanges);
    });

    it("refuses a callback that carries another login's state, before any code exchange", async () => {
      const started = await startLogin(deps, harness.id, undefined);
      const callback = await harness.approve(started.authorizationUrl, GRACE);
      callback.set('state', 'x'.repeat(43));
      const exchanges = harness.exchanges();
      const error = await rejection(finishLogin(deps, harness.id, started.flowId, callback));
      expect(error).toMatchObject({ code: FLOW_INVALID, detail: { reason: 'state mismatch' } });
      expect(harness.exchanges()).toBe(exchanges);
    });

    it('reports the user declining at the provider as access_denied', async () => {
      const started = await startLogin(deps, harness.id, undefined);
      const declined = new URLSearchParams({ error: 'access_denied', state: started.state });
      expect((await rejection(finishLogin(deps, harness.id, started.flowId, declined))).code).toBe(ACCESS_DENIED);
    });

    it('reports a refused code as token_exchange_failed, with the provider’s error kept for the log only', async () => {
      harness.refuseExchange();
      const error = await rejection(signIn());
      const refusal = harness.refusal ?? 'invalid_grant';
      expect(error).toMatchObject({ code: TOKEN_EXCHANGE_FAILED, detail: { provider: harness.id, oauth_error: refusal } });
      expect(error.message).not.toContain(refusal);
    });

    it('refuses data it cannot trust', async () => {
      const expected = harness.corrupt();
      const error = await rejection(signIn());
      expect(error.code).toBe(expected);
      expect(error.detail.provider).toBe(harness.id);
    });

    it('reports a provider it cannot reach: before the redirect when it is discovered, at the callback otherwise', async () => {
      const started = harness.protocol === 'oauth2' ? await startLogin(deps, harness.id, undefined) : undefined;
      msw.use(http.all('*', () => HttpResponse.error()));
      if (!started) {
        expect((await rejection(startLogin(deps, harness.id, undefined))).code).toBe(PROVIDER_UNAVAILABLE);
        return;
      }
      const callback = new URLSearchParams({ code: 'a-code', state: started.state });
      expect((await rejection(finishLogin(deps, harness.id, started.flowId, callback))).code).toBe(TOKEN_EXCHANGE_FAILED);
    });
  });
}
