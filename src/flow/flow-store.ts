import { FLOW_INVALID, PorteroError } from '../errors.js';
import { storeKeys } from '../store/keys.js';
import type { KeyValueStore } from '../store/types.js';
import { openV1, V1_FLOW_ID_LENGTH, v1StoreId } from './flow-record-v1.js';
import { browserSecrets, FLOW_ID_BYTES, newFlowId, type StoreSecrets, seal, storeSecrets, unseal } from './sealed.js';

/** What a login needs between the redirect to the provider and its callback. */
export interface FlowRecord {
  readonly provider: string;
  /** The issuer the authorization request went to; a callback for another issuer is refused. */
  readonly issuer: string;
  readonly state: string;
  /** Sent in the authorization request, for the ID token to carry (OIDC providers but those whose preset says not). */
  readonly nonce?: string;
  readonly codeVerifier: string;
  readonly returnTo: string;
}

/** A login about to start: its id (for the browser's cookie, nowhere else) and its record. */
export interface NewFlow {
  readonly flowId: string;
  readonly record: FlowRecord;
}

/** What the callback's route and the provider's configuration now say the flow must be for. */
export interface FlowBinding {
  readonly provider: string;
  readonly issuer: string;
}

/**
 * The version of the stored record, its first byte. An instance meeting a record of a version it
 * does not know refuses it as an expired login, which the user can start again, rather than
 * misread it. Change the record, change this (and keep reading the one before for a release, as
 * src/flow/flow-record-v1.ts does).
 */
export const FLOW_RECORD_VERSION = 2;

const FLOW_ID_LENGTH = Math.ceil((FLOW_ID_BYTES * 4) / 3);
/** The plaintext's first byte: whether a nonce was sent. */
const NONCE_SENT = 1;

/** Bound to the record as AES-GCM associated data, not stored: it opens only for this provider and issuer. */
const associated = (binding: FlowBinding) => Buffer.from(`${FLOW_RECORD_VERSION}\0${binding.provider}\0${binding.issuer}`);

const V1_REASONS = {
  'does not open': 'flow record does not open',
  'unknown version': 'flow record of another version',
  malformed: 'flow record malformed',
} as const;

function refused(reason: string): PorteroError {
  return new PorteroError(FLOW_INVALID, 'the login expired or was already used', { detail: { reason } });
}

/**
 * Logins in flight, on the key-value store. The state, nonce and PKCE verifier are derived from
 * the flow id (src/flow/sealed.ts), which lives only in the browser's signed cookie; the store
 * holds, under a key derived from it too, the return address sealed (AES-GCM) under a key derived
 * from it, bound to the provider and issuer: a dump of the store alone shows neither the verifier
 * nor where the user is headed, and a record is 1 + 16 + 1 bytes plus the return address.
 */
export class FlowStore {
  readonly #store: KeyValueStore;

  constructor(store: KeyValueStore) {
    this.#store = store;
  }

  /** A new login's id and record; nothing is stored until {@link save}. */
  static create(details: FlowBinding & { readonly returnTo: string; readonly nonce: boolean }): NewFlow {
    const flowId = newFlowId();
    const { state, nonce, codeVerifier } = browserSecrets(flowId);
    const { provider, issuer, returnTo } = details;
    return { flowId, record: { provider, issuer, state, ...(details.nonce ? { nonce } : {}), codeVerifier, returnTo } };
  }

  async save(flow: NewFlow, ttlSeconds: number): Promise<void> {
    const secrets = storeSecrets(flow.flowId);
    const plaintext = Buffer.concat([Buffer.of(flow.record.nonce !== undefined ? NONCE_SENT : 0), Buffer.from(flow.record.returnTo)]);
    const value = Buffer.concat([Buffer.of(FLOW_RECORD_VERSION), seal(secrets, associated(flow.record), plaintext)]);
    await this.#store.set(storeKeys.flow(secrets.storeId), value.toString('base64url'), ttlSeconds);
  }

  /**
   * Takes the record out of the store: it can be used once, by the browser that holds its id, for
   * the provider and issuer it was started with. Throws `flow_invalid` when there is none
   * (expired, replayed, another instance's memory) or it cannot be read; `store_unavailable` when
   * the store does not answer. A record of version 1 is read too (a rolling deploy).
   */
  async consume(flowId: string, binding: FlowBinding): Promise<FlowRecord> {
    if (flowId.length === V1_FLOW_ID_LENGTH) return this.#consumeV1(flowId);
    if (flowId.length !== FLOW_ID_LENGTH) throw refused('flow id of another version');
    const secrets = storeSecrets(flowId);
    const stored = await this.#store.getAndDelete(storeKeys.flow(secrets.storeId));
    if (stored === undefined) throw refused('flow not found (expired or replayed)');
    const returnTo = open(secrets, binding, Buffer.from(stored, 'base64url'));
    const { state, nonce, codeVerifier } = browserSecrets(flowId);
    return { ...binding, state, ...(returnTo.nonce ? { nonce } : {}), codeVerifier, returnTo: returnTo.url };
  }

  async #consumeV1(flowId: string): Promise<FlowRecord> {
    const stored = await this.#store.getAndDelete(storeKeys.flow(v1StoreId(flowId)));
    if (stored === undefined) throw refused('flow not found (expired or replayed)');
    const record = openV1(flowId, stored);
    if (typeof record === 'string') throw refused(V1_REASONS[record]);
    return record;
  }
}

/** The stored value's return address, and whether a nonce was sent. */
function open(secrets: StoreSecrets, binding: FlowBinding, raw: Buffer): { url: string; nonce: boolean } {
  if (raw[0] !== FLOW_RECORD_VERSION) throw refused('flow record of another version');
  const plaintext = unseal(secrets, associated(binding), raw.subarray(1));
  if (plaintext === undefined) throw refused('flow record does not open for this provider and issuer');
  const [flags] = plaintext;
  if (flags === undefined || flags > NONCE_SENT || plaintext.length < 2) throw refused('flow record malformed');
  return { url: plaintext.subarray(1).toString('utf8'), nonce: flags === NONCE_SENT };
}
