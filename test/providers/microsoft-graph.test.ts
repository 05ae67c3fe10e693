import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { finishLogin, startLogin } from '../../src/flow/login.js';
import { GRAPH_MAX_PAGES, GRAPH_MEMBERSHIPS } from '../../src/providers/microsoft-graph.js';
import { flowDepsFor, rejection } from '../support/flow.js';
import { ENTRA_SUB, entraClaims, entraEndpoint, multiTenantEndpoint, OTHER_TENANT, TENANT } from '../support/mock-entra.js';
import { MockGraph } from '../support/mock-graph.js';
import type { MockOidcProvider } from '../support/mock-oidc.js';

// Entra ID (one tenant, and common) and Microsoft Graph beside it, which takes their access tokens.
const entra = await entraEndpoint(TENANT);
const common = await multiTenantEndpoint('common');
const graph = new MockGraph((request) => entra.userOf(request) ?? common.userOf(request));
// Where a token's `_claim_sources` points: the retired Azure AD Graph, or whatever a token says.
const elsewhere: string[] = [];
const msw = setupServer(
  ...entra.handlers(),
  ...common.handlers(),
  ...graph.handlers(),
  http.all('https://graph.windows.net/*', ({ request }) => {
    elsewhere.push(request.url);
    return HttpResponse.json({ value: [] });
  }),
  http.all('https://graph.evil.example/*', ({ request }) => {
    elsewhere.push(request.url);
    return HttpResponse.json({ value: [{ '@odata.type': '#microsoft.graph.group', id: ADMINS }] });
  }),
);
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
afterEach(() => {
  graph.memberships.clear();
  graph.requests.length = 0;
  graph.status = undefined;
  graph.nextLinkOverride = undefined;
  elsewhere.length = 0;
});

const ADMINS = '5f2b9a3c-1d4e-4f6a-8b7c-9d0e1f2a3b4c';
/** Group object ids, as Entra makes them. */
const groupId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const CLIENT = { PROVIDER_MICROSOFT_CLIENT_ID: entra.clientId, PROVIDER_MICROSOFT_CLIENT_SECRET: entra.clientSecret };
const RULE = { ...CLIENT, PROVIDER_MICROSOFT_TENANT: TENANT, PROVIDER_MICROSOFT_ALLOWED_GROUPS: `${ADMINS},Ops` };

/**
 * An ID token past 200 groups carries none, and says where they are instead (documented at
 * https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference, `groups`).
 */
const OVERAGE = {
  _claim_names: { groups: 'src1' },
  _claim_sources: { src1: { endpoint: `https://graph.windows.net/${TENANT}/users/00000000-0000-0000-66f3-3332eca7ea81/getMemberObjects` } },
};

async function signIn(env: Record<string, string>, claims: Record<string, unknown>, idp: MockOidcProvider = entra) {
  const deps = flowDepsFor(env);
  const started = await startLogin(deps, 'microsoft', undefined);
  const tid = idp === entra ? TENANT : OTHER_TENANT;
  return finishLogin(
    deps,
    'microsoft',
    started.flowId,
    idp.authorize(started.authorizationUrl, { sub: ENTRA_SUB, claims: entraClaims(tid, claims) }),
  );
}

/** The user is in `count` groups, `ADMINS` the last of them. */
function memberOf(count: number, last = ADMINS) {
  graph.memberships.set(ENTRA_SUB, [...Array.from({ length: count - 1 }, (_, n) => ({ id: groupId(n) })), { id: last }]);
}

describe('microsoft groups overage: the groups from Microsoft Graph when they did not fit the token', () => {
  it('asks User.Read beside the OpenID scopes with a group rule, so the access token may list the groups', async () => {
    const scope = async (env: Record<string, string>) =>
      (await startLogin(flowDepsFor(env), 'microsoft', undefined)).authorizationUrl.searchParams.get('scope');
    expect(await scope(RULE)).toBe('openid profile email User.Read');
    expect(await scope({ ...CLIENT, PROVIDER_MICROSOFT_TENANT: TENANT })).toBe('openid profile email');
  });

  it('reads the groups claim when it is there, and asks Graph nothing', async () => {
    const finished = await signIn(RULE, { groups: [groupId(1), ADMINS] });
    expect(finished.profile.groups).toEqual([ADMINS]);
    expect(graph.requests).toEqual([]);
  });

  it('reads 1,500 groups from Graph, page after page, and lets in a member of the group on the second page; the token carries that group only', async () => {
    memberOf(1500);
    const finished = await signIn(RULE, OVERAGE);
    expect(finished.profile).toEqual({
      subject: ENTRA_SUB,
      email: undefined,
      emailVerified: false,
      name: 'Abe Lincoln',
      preferredUsername: 'AbeLi@contoso.com',
      groups: [ADMINS],
    });
    expect(graph.requests).toEqual([GRAPH_MEMBERSHIPS, `${GRAPH_MEMBERSHIPS}&$skiptoken=999`]);
  });

  it('never calls the endpoint the token’s _claim_sources names: only the fixed Graph address gets the access token', async () => {
    memberOf(300);
    const hostile = { ...OVERAGE, _claim_sources: { src1: { endpoint: 'https://graph.evil.example/me/memberOf' } } };
    expect((await signIn(RULE, hostile)).profile.groups).toEqual([ADMINS]);
    memberOf(300, groupId(999));
    expect(await rejection(signIn(RULE, hostile))).toMatchObject({ code: 'not_allowed' });
    expect(elsewhere).toEqual([]);
    expect(graph.requests).toHaveLength(2);
  });

  it('reads Graph for an implicit-flow style hasgroups too', async () => {
    memberOf(7);
    expect((await signIn(RULE, { hasgroups: true })).profile.groups).toEqual([ADMINS]);
  });

  it('refuses a user Graph lists in no allowed group, and counts only groups (not a directory role of that id)', async () => {
    graph.memberships.set(ENTRA_SUB, [{ id: groupId(1) }, { id: ADMINS, type: '#microsoft.graph.directoryRole' }]);
    expect(await rejection(signIn(RULE, OVERAGE))).toMatchObject({
      code: 'not_allowed',
      detail: { rule: 'PROVIDER_MICROSOFT_ALLOWED_GROUPS', reason: 'in no allowed group' },
      account: 'AbeLi@contoso.com',
    });
  });

  it('refuses, naming the rule, when Graph does not let the token list the groups (403)', async () => {
    graph.status = 403;
    expect(await rejection(signIn(RULE, OVERAGE))).toMatchObject({
      code: 'not_allowed',
      detail: { rule: 'PROVIDER_MICROSOFT_ALLOWED_GROUPS', reason: 'groups overage, Graph memberships not readable' },
    });
  });

  it('follows no next page off graph.microsoft.com: the access token goes with it', async () => {
    memberOf(1500, groupId(1));
    graph.nextLinkOverride = 'https://graph.evil.example/v1.0/me/transitiveMemberOf?$skiptoken=999';
    expect(await rejection(signIn(RULE, OVERAGE))).toMatchObject({
      code: 'profile_unavailable',
      detail: { reason: 'Microsoft Graph named a next page off graph.microsoft.com' },
    });
    expect(elsewhere).toEqual([]);
  });

  it(`stops after ${GRAPH_MAX_PAGES} pages of a Graph that never ends`, async () => {
    memberOf(10, groupId(1));
    graph.nextLinkOverride = `${GRAPH_MEMBERSHIPS}&$skiptoken=0`;
    expect(await rejection(signIn(RULE, OVERAGE))).toMatchObject({
      code: 'profile_unavailable',
      detail: { reason: `Microsoft Graph lists more than ${GRAPH_MAX_PAGES} pages of memberships` },
    });
    expect(graph.requests).toHaveLength(GRAPH_MAX_PAGES);
  });

  it('asks Graph nothing without a group rule: the overage costs nothing then', async () => {
    memberOf(300);
    const finished = await signIn({ ...CLIENT, PROVIDER_MICROSOFT_TENANT: TENANT }, OVERAGE);
    expect(finished.profile.groups).toBeUndefined();
    expect(graph.requests).toEqual([]);
  });

  it('works for a multi-tenant endpoint, with group object ids', async () => {
    memberOf(250);
    const env = { ...CLIENT, PROVIDER_MICROSOFT_TENANT: 'common', PROVIDER_MICROSOFT_ALLOWED_GROUPS: ADMINS };
    expect((await signIn(env, OVERAGE, common)).profile.groups).toEqual([ADMINS]);
  });
});
