import { normalizeDomain } from '../shared/email.js';
import { groupsFrom, pick } from './claims.js';
import { accountRefused, idTokenRefused, profileRefused } from './errors.js';
import { graphGroups, groupsOverage } from './microsoft-graph.js';
import { openIdConnect } from './oidc.js';
import { ISSUER_VARIABLES, type IssuerSettings, providerPrefix, readIssuer } from './settings.js';
import { type CommonSettings, defineProvider, type JsonObject, type ProfileSource, type SettingsReader } from './types.js';

/** The tenant every personal Microsoft account belongs to (what `consumers` signs in). */
const CONSUMERS_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Entra ID's multi-tenant endpoints: any work or school tenant, or any personal account, or both. */
const MULTI_TENANT = ['common', 'organizations', 'consumers'] as const;
type MultiTenant = (typeof MULTI_TENANT)[number];

const entraIssuer = (tenant: string) => `https://login.microsoftonline.com/${tenant}/v2.0`;

export interface MicrosoftSettings extends IssuerSettings {
  /** `PROVIDER_<ID>_TENANT` when it is a multi-tenant endpoint; undefined for one tenant. */
  readonly multiTenant?: MultiTenant;
}

/** `_TENANT`: a multi-tenant keyword, a tenant id (GUID) or a verified domain, lower-cased; undefined after a problem. */
function readTenant(reader: SettingsReader, raw: string): { tenant: string; multiTenant?: MultiTenant } | undefined {
  const lower = raw.toLowerCase();
  const keyword = MULTI_TENANT.find((name) => name === lower);
  if (keyword) return { tenant: keyword, multiTenant: keyword };
  // The consumers tenant by id is every personal account too: the same policy as `consumers`.
  if (lower === CONSUMERS_TENANT) return { tenant: 'consumers', multiTenant: 'consumers' };
  if (GUID.test(lower)) return { tenant: lower };
  const domain = normalizeDomain(raw);
  if (domain?.includes('.')) return { tenant: domain };
  reader.problem(
    `${reader.prefix}TENANT is not a tenant: ${JSON.stringify(raw)} (common, organizations, consumers, a tenant id, or a verified domain such as contoso.onmicrosoft.com)`,
  );
  return undefined;
}

/** Today's `_ISSUER` form: it must name one tenant, as it always had to. */
function readTenantIssuer(reader: SettingsReader): MicrosoftSettings {
  const settings = readIssuer(reader);
  const tenant = URL.canParse(settings.issuer) ? new URL(settings.issuer).pathname.split('/')[1]?.toLowerCase() : undefined;
  if (tenant && [...MULTI_TENANT, CONSUMERS_TENANT].includes(tenant)) {
    reader.problem(
      `${reader.prefix}ISSUER names the multi-tenant endpoint "${tenant}", where every Entra tenant (or every personal account) could sign in; for one tenant use https://login.microsoftonline.com/<tenant id>/v2.0, for many set ${reader.prefix}TENANT=${tenant === CONSUMERS_TENANT ? 'consumers' : tenant} with an access rule instead`,
    );
  }
  return settings;
}

/**
 * A group rule for a multi-tenant endpoint must name object ids: a group's name is whatever the
 * admin of any tenant (anyone can make one) calls it, while an object id is Entra's, unique to one group.
 */
function checkGroupIds(reader: SettingsReader, common: CommonSettings): void {
  // Only `groups` holds object ids: `wids` are role templates, the same in every tenant, and app
  // roles are assigned by each tenant's own admin. Either would let in whoever makes a tenant.
  const claim = common.groupsClaim ?? 'groups';
  if (common.access?.groups && claim !== 'groups') {
    reader.problem(
      `${reader.prefix}GROUPS_CLAIM=${claim} cannot hold a rule with a multi-tenant ${reader.prefix}TENANT: every tenant's admin gives its users what it holds; use the groups claim's object ids`,
    );
  }
  const names = (common.access?.groups ?? []).filter((group) => !GUID.test(group));
  if (names.length > 0) {
    reader.problem(
      `${reader.prefix}ALLOWED_GROUPS must list group object ids with a multi-tenant ${reader.prefix}TENANT (another tenant can name a group anything): ${names.join(', ')}`,
    );
  }
}

function readSettings(reader: SettingsReader, common: CommonSettings): MicrosoftSettings {
  const raw = reader.value('TENANT');
  const issuerSet = reader.value('ISSUER') !== undefined;
  if (raw === undefined && !issuerSet) {
    reader.problem(
      `${reader.prefix}TENANT is required for Microsoft: your tenant id or verified domain, or common, organizations or consumers with an access rule (or ${reader.prefix}ISSUER, one tenant's issuer)`,
    );
    return { issuer: '' };
  }
  if (raw !== undefined && issuerSet) {
    reader.problem(`${reader.prefix}TENANT and ${reader.prefix}ISSUER are both set: set one (TENANT builds the issuer)`);
    return { issuer: '' };
  }
  if (raw === undefined) return readTenantIssuer(reader);
  const read = readTenant(reader, raw);
  if (!read) return { issuer: '' };
  if (read.multiTenant) checkGroupIds(reader, common);
  if (read.multiTenant === 'consumers' && common.access?.groups)
    reader.problem(`${reader.prefix}ALLOWED_GROUPS cannot pass with TENANT=consumers: personal Microsoft accounts are in no groups`);
  return { issuer: entraIssuer(read.tenant), ...(read.multiTenant ? { multiTenant: read.multiTenant } : {}) };
}

/**
 * Microsoft's check for multi-tenant apps: the token's issuer is its own tenant's (`tid`), and the
 * tenant is one the endpoint stands for. openid-client fills the templated issuer from `tid` and
 * compares it too; this holds even if it did not. One tenant needs nothing more: openid-client
 * compares `iss` with the discovered issuer, which names it.
 * https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-the-issuer
 */
function checkTenant(claims: JsonObject, settings: MicrosoftSettings): void {
  const { multiTenant } = settings;
  if (!multiTenant) {
    // One tenant's settings, and yet the consumers tenant: a domain Entra takes for it (live.com).
    if (typeof claims.tid === 'string' && claims.tid.toLowerCase() === CONSUMERS_TENANT)
      throw idTokenRefused('a personal account at one tenant (TENANT=consumers, with a rule, signs those in)');
    return;
  }
  const tid = typeof claims.tid === 'string' && GUID.test(claims.tid) ? claims.tid.toLowerCase() : undefined;
  if (!tid) throw idTokenRefused('an Entra ID token without a tenant id (tid)');
  if (claims.iss !== entraIssuer(tid)) throw idTokenRefused(`iss is not the issuer of its own tenant ${tid}`);
  if (multiTenant === 'organizations' && tid === CONSUMERS_TENANT) throw idTokenRefused('a personal account at organizations');
  if (multiTenant === 'consumers' && tid !== CONSUMERS_TENANT) throw idTokenRefused(`tenant ${tid} at consumers`);
}

/**
 * `xms_edov` (email domain owner verified), an optional claim the app registration must add:
 * Microsoft documents a boolean; `1` and `"1"` are read as true too, as Entra writes some flags so.
 */
const domainVerified = (value: unknown) =>
  value === true || value === 1 || (typeof value === 'string' && ['1', 'true'].includes(value.toLowerCase()));

/** The user's groups as the token's `_GROUPS_CLAIM` says, or from Microsoft Graph when they did not fit in it. */
async function groupsOf(source: ProfileSource<MicrosoftSettings>, claims: JsonObject, account: string | undefined) {
  const { settings } = source;
  const claim = settings.groupsClaim ?? 'groups';
  // Only a group rule needs them: an overage otherwise costs no Graph calls.
  if (settings.access?.groups === undefined || claim !== 'groups' || !groupsOverage(claims)) return groupsFrom([claims], claim);
  const groups = await graphGroups(source);
  if (!groups)
    throw accountRefused(`${providerPrefix(settings.id)}ALLOWED_GROUPS`, 'groups overage, Graph memberships not readable', account);
  return groups;
}

/**
 * The profile from the ID token alone. Not userinfo: it has nothing more but a `picture` URL that
 * needs a Graph token, which no app behind portero holds.
 */
async function profile(source: ProfileSource<MicrosoftSettings>) {
  const claims = source.idTokenClaims ?? {};
  const subject = pick(claims, 'sub');
  if (!subject) throw profileRefused('ID token without sub');
  // nOAuth: a tenant admin can set any user's `email`; only `xms_edov` says its domain is the
  // tenant's (or the account's own). Entra's ID tokens never carry `email_verified`: one is ignored.
  const email = pick(claims, 'email');
  // `preferred_username` is the sign-in name (a UPN, or a phone number): mutable, unverified, never an email.
  const preferredUsername = pick(claims, 'preferred_username');
  const groups = await groupsOf(source, claims, email ?? preferredUsername);
  return {
    subject,
    email,
    emailVerified: email !== undefined && domainVerified(claims.xms_edov),
    name: pick(claims, 'name'),
    preferredUsername,
    ...(groups ? { groups } : {}),
  };
}

/**
 * Microsoft Entra ID (work and school accounts) and personal Microsoft accounts, by
 * `PROVIDER_<ID>_TENANT`: one tenant (its id or a verified domain), or `common`, `organizations`,
 * `consumers`, whose users are the public. Today's `_ISSUER` (one tenant's) keeps working.
 * The subject is `sub`, unique to the user and this app registration (OIDC's pairwise subject).
 */
export const microsoft = defineProvider<MicrosoftSettings>({
  ...openIdConnect,
  type: 'microsoft',
  displayName: 'Microsoft',
  requiresClientSecret: true,
  variables: [...ISSUER_VARIABLES, 'TENANT'],
  // Anyone can make a tenant, or a personal account.
  publicUsers: (settings) => settings.multiTenant !== undefined,
  // Personal accounts are in no groups: for `consumers` only the email rules can say who.
  accessVariablesFor: (settings) => (settings.multiTenant === 'consumers' ? [] : ['ALLOWED_GROUPS']),
  // `User.Read` lets the access token list the user's groups at Graph, when they overflow the token.
  scopesFor: (settings) => (settings.access?.groups ? [...openIdConnect.scopes, 'User.Read'] : openIdConnect.scopes),
  readSettings,
  checkIdToken: checkTenant,
  profile,
});
