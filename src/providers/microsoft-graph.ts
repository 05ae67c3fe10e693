import { profileRefused } from './errors.js';
import type { JsonObject, ProfileSource } from './types.js';

/**
 * The signed-in user's memberships, direct and nested, ids only, 999 a page (Graph's maximum; 100
 * by default). `User.Read` is enough: without a group permission Graph still lists each group,
 * its `@odata.type` and `id` only, which is what the `groups` claim carries (object ids). Not the
 * `microsoft.graph.group` cast: Graph takes a cast only with `ConsistencyLevel: eventual`, which
 * reads an index that may lag. Documented at
 * https://learn.microsoft.com/graph/api/user-list-transitivememberof (delegated, `/me`).
 */
export const GRAPH_MEMBERSHIPS = 'https://graph.microsoft.com/v1.0/me/transitiveMemberOf?$select=id&$top=999';

/** Pages read at most (9,990 memberships): a user beyond that is refused rather than read forever. */
export const GRAPH_MAX_PAGES = 10;

const GRAPH_ORIGIN = 'https://graph.microsoft.com';

/**
 * Whether the ID token says the user is in too many groups for it (Entra's "groups overage"):
 * `_claim_names` names `groups` (a code-flow token past 200 groups), or `hasgroups: true` (an
 * implicit-flow token past 6). Documented at
 * https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference (`groups`, `hasgroups`).
 *
 * Only the fact is read. The `_claim_sources` endpoint the token names (the retired Azure AD Graph,
 * `graph.windows.net`) is never called: whatever URL a claim says would receive the user's access
 * token, and portero sends that token to one fixed address of Microsoft Graph only.
 */
export function groupsOverage(claims: JsonObject): boolean {
  const names = claims._claim_names;
  const named = typeof names === 'object' && names !== null && Object.hasOwn(names, 'groups');
  return named || claims.hasgroups === true || claims.hasgroups === 'true';
}

/** The next page Graph names, which must stay on Graph: the access token goes with it. */
function nextPage(body: JsonObject): string | undefined {
  const next = body['@odata.nextLink'];
  if (next === undefined) return undefined;
  if (typeof next !== 'string' || !URL.canParse(next) || new URL(next).origin !== GRAPH_ORIGIN)
    throw profileRefused('Microsoft Graph named a next page off graph.microsoft.com');
  return next;
}

/** The group ids of one page of `/me/transitiveMemberOf` (directory roles and administrative units left out). */
function groupIds(body: JsonObject): string[] {
  const { value } = body;
  if (!Array.isArray(value)) throw profileRefused('Microsoft Graph memberships without a value list');
  const ids: string[] = [];
  for (const entry of value as JsonObject[]) {
    if (entry?.['@odata.type'] === '#microsoft.graph.group' && typeof entry.id === 'string' && entry.id !== '') ids.push(entry.id);
  }
  return ids;
}

/**
 * The ids of every group the user is in, from Microsoft Graph with the user's access token (so the
 * token must be for Graph: `openid profile email User.Read`, not another API's scope). Undefined
 * when Graph refuses to list them (403: no permission; 404).
 */
export async function graphGroups(source: ProfileSource): Promise<string[] | undefined> {
  const groups: string[] = [];
  let url: string | undefined = GRAPH_MEMBERSHIPS;
  for (let page = 0; url !== undefined; page++) {
    if (page === GRAPH_MAX_PAGES) throw profileRefused(`Microsoft Graph lists more than ${GRAPH_MAX_PAGES} pages of memberships`);
    const body = await source.fetchJson(url, { optional: true });
    if (body === undefined) return undefined;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw profileRefused('Microsoft Graph did not answer an object');
    groups.push(...groupIds(body as JsonObject));
    url = nextPage(body as JsonObject);
  }
  return groups;
}
