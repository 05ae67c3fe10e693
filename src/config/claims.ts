import { lowerAscii } from '../shared/email.js';
import { RESERVED_CLAIMS } from '../shared/token-shape.js';
import type { EnvReader } from './reader.js';

/**
 * A top-level claim's name, taken as written: `roles`, `department`, Auth0's namespaced
 * `https://example.com/roles`. No path into an object (Keycloak's `realm_access.roles` is one
 * claim holding an object, which is not copied anyway): a dot is part of the name.
 */
const CLAIM_NAME = /^[A-Za-z0-9_.:/-]{1,128}$/;

/**
 * `PROVIDER_<ID>_CLAIMS=roles,department`: the provider's claims to copy into the token, in the
 * order given (the order in which they get room, src/flow/extra-claims.ts). A name portero sets
 * itself (`sub`, `email`, ...) would let a provider's claim stand in for portero's word: a
 * problem, as is a name given twice or one that is no claim name. `groups` asks for the user's
 * groups (`_GROUPS_CLAIM`), carried as portero's own `groups` claim (see `groupsForToken`).
 */
export function readClaimNames(prefix: string, raw: string | undefined, reader: Pick<EnvReader, 'problem'>): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const variable = `${prefix}CLAIMS`;
  const names: string[] = [];
  for (const name of raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)) {
    if (!CLAIM_NAME.test(name)) {
      reader.problem(`${variable} entry ${JSON.stringify(name)} is not a claim name (letters, digits and _ . : / -, at most 128)`);
    } else if (lowerAscii(name) === 'groups') {
      // Not copied as the provider spells it: the flow carries the user's groups (src/flow/access.ts).
      if (names.includes('groups')) reader.problem(`${variable} names "groups" twice`);
      else names.push('groups');
    } else if (RESERVED_CLAIMS.has(lowerAscii(name))) {
      reader.problem(`${variable} names ${JSON.stringify(name)}, which portero sets itself: it is never copied from a provider`);
    } else if (names.includes(name)) {
      reader.problem(`${variable} names ${JSON.stringify(name)} twice`);
    } else {
      names.push(name);
    }
  }
  return names;
}
