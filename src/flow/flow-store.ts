import { FLOW_INVALID, PorteroError } from '../errors.js';
import { storeKeys } from '../store/keys.js';
import type { KeyValueStore } from '../store/types.js';
import { flowStoreId, seal, unseal } from './sealed.js';

/** What is kept between the redirect to the provider and its callback. */
export interface FlowRecord {
  readonly provider: string;
  /** The issuer the authorization request went to; a callback for another issuer is refused. */
  readonly issuer: string;
  readonly state: string;
  readonly nonce?: string;
  readonly codeVerifier: string;
  readonly returnTo: string;
  readonly createdAt: number;
}

/**
 * The version of the stored record. An instance meeting a record of a version it does not know (a
 * rolling deploy that changed the record) refuses it as an expired login, which the user can start
 * again, rather than misread it. Change the record, change this.
 */
export const FLOW_RECORD_VERSION = 1;

const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/** The record, when `value` is one of this version with every field of the right type. */
function parseRecord(value: unknown): FlowRecord | 'unknown version' | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { v, provider, issuer, state, nonce, codeVerifier, returnTo, createdAt } = value as Record<string, unknown>;
  if (v !== FLOW_RECORD_VERSION) return 'unknown version';
  if (![provider, issuer, state, codeVerifier, returnTo].every(isText)) return undefined;
  if (nonce !== undefined && !isText(nonce)) return undefined;
  if (typeof createdAt !== 'number') return undefined;
  return value as FlowRecord;
}

function refused(reason: string): PorteroError {
  return new PorteroError(FLOW_INVALID, 'the login expired or was already used', { detail: { reason } });
}

/**
 * Logins in flight, on the key-value store. The record is stored under a hash of the flow id and
 * sealed (AES-GCM) under a key derived from it, and the flow id lives only in the browser's signed
 * cookie: a dump of the store alone shows neither the PKCE verifier nor where the user is headed.
 */
export class FlowStore {
  readonly #store: KeyValueStore;

  constructor(store: KeyValueStore) {
    this.#store = store;
  }

  async save(flowId: string, record: FlowRecord, ttlSeconds: number): Promise<void> {
    const plaintext = JSON.stringify({ v: FLOW_RECORD_VERSION, ...record });
    await this.#store.set(storeKeys.flow(flowStoreId(flowId)), seal(flowId, plaintext), ttlSeconds);
  }

  /**
   * Takes the record out of the store: it can be used once, by the browser that holds its id.
   * Throws `flow_invalid` when there is none (expired, replayed, another instance's memory) or it
   * cannot be read; `store_unavailable` when the store does not answer.
   */
  async consume(flowId: string): Promise<FlowRecord> {
    const sealed = await this.#store.getAndDelete(storeKeys.flow(flowStoreId(flowId)));
    if (sealed === undefined) throw refused('flow not found (expired or replayed)');
    const plaintext = unseal(flowId, sealed);
    if (plaintext === undefined) throw refused('flow record does not open');
    let parsed: ReturnType<typeof parseRecord>;
    try {
      parsed = parseRecord(JSON.parse(plaintext));
    } catch {
      parsed = undefined;
    }
    if (parsed === 'unknown version') throw refused('flow record of another version');
    if (parsed === undefined) throw refused('flow record malformed');
    return parsed;
  }
}
