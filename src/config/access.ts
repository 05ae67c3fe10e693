import { type AccessRules, findPreset, type ProviderRegistry, type ProviderSettings, providerPrefix } from '../providers/index.js';
import { readFileSync } from 'node:fs';
import { normalizeDomain, normalizeEmail } from '../shared/email.js';
import { parseEmailsList } from '../shared/emails-list.js';
import type { EnvReader } from './reader.js';

function entries(raw: string): string[] {
  return raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}

/** `company.com,corp.example`: domains, IDNA-normalised; `*.company.com`, `@company.com` or a URL is a problem. */
export function readDomains(variable: string, raw: string | undefined, reader: Pick<EnvReader, 'problem'>): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const domains: string[] = [];
  for (const entry of entries(raw)) {
    const domain = normalizeDomain(entry);
    if (domain) domains.push(domain);
    // Not a pattern: a domain is compared whole, so a subdomain must be listed of its own.
    else reader.problem(`${variable} entry ${JSON.stringify(entry)} is not a domain (like company.com; subdomains are listed each)`);
  }
  return domains;
}

/** `ada@company.com,lin@corp.example`: addresses with exactly one `@`, normalised. */
export function readEmails(variable: string, raw: string | undefined, reader: Pick<EnvReader, 'problem'>): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const emails: string[] = [];
  for (const entry of entries(raw)) {
    const email = normalizeEmail(entry);
    if (email) emails.push(email.address);
    else reader.problem(`${variable} entry ${JSON.stringify(entry)} is not an email address`);
  }
  return emails;
}

/**
 * `_ALLOWED_EMAILS_FILE`: read once now, so a file that is missing, unreadable or holds a line that
 * is no address stops start-up (the flow reads it again whenever it changes); its path, or undefined.
 */
export function readEmailsFile(variable: string, path: string | undefined, reader: Pick<EnvReader, 'problem'>): string | undefined {
  if (path === undefined || path === '') return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    reader.problem(`${variable} names ${path}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
  const { invalid } = parseEmailsList(text);
  if (invalid.length > 0) reader.problem(`${variable} ${path}: line ${invalid.join(', ')} is not an email address`);
  return path;
}

/** `admins,Ops Team`: group names as the provider spells them (compared case-insensitively). */
export function readGroups(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  return entries(raw);
}

/** The rules of one provider or of the whole gateway, frozen; none set gives `{}`. */
export function accessRules(
  emailDomains: string[] | undefined,
  emails: string[] | undefined,
  emailsFile?: string,
  groups?: string[],
): AccessRules {
  return Object.freeze({
    ...(emailDomains ? { emailDomains: Object.freeze(emailDomains) } : {}),
    ...(emails ? { emails: Object.freeze(emails) } : {}),
    ...(emailsFile ? { emailsFile } : {}),
    ...(groups ? { groups: Object.freeze(groups) } : {}),
  });
}

export const hasRules = (rules: AccessRules | undefined): boolean =>
  rules?.emailDomains !== undefined || rules?.emails !== undefined || rules?.emailsFile !== undefined || rules?.groups !== undefined;

/**
 * A provider whose users are the general public (`publicUsers`) with no access rule lets every
 * account on earth sign in: production refuses that unless the operator says so (`_ALLOW_ALL`),
 * as oauth2-proxy refuses to start without `--email-domain`. The global ALLOWED_EMAIL_DOMAINS
 * counts as a rule.
 */
export function checkOpenProviders(
  providers: readonly ProviderSettings[],
  registry: ProviderRegistry,
  global: AccessRules,
  reader: Pick<EnvReader, 'problem'>,
): void {
  for (const provider of providers) {
    const preset = findPreset(provider.type, registry);
    if (preset?.publicUsers?.(provider) !== true || provider.allowAll || hasRules(global) || hasRules(provider.access)) continue;
    const prefix = providerPrefix(provider.id);
    const emailRules = preset.unverifiedEmails ? [] : ['ALLOWED_EMAIL_DOMAINS', 'ALLOWED_EMAILS'];
    const rules = [...(preset.accessVariablesFor?.(provider) ?? preset.accessVariables ?? []), ...emailRules].map(
      (suffix) => `${prefix}${suffix}`,
    );
    const set = [...(emailRules.length > 0 ? ['ALLOWED_EMAIL_DOMAINS'] : []), ...rules];
    reader.problem(
      `provider ${provider.id} lets every account of a public provider sign in: set ${set.length > 0 ? `${set.join(', ')}, or ` : ''}${prefix}ALLOW_ALL=true to let everyone in`,
    );
  }
}

/** An email rule over a provider that never says an address is verified (Facebook) would refuse every one of its users: a problem, in every mode. */
export function checkUnverifiedEmailRules(
  providers: readonly ProviderSettings[],
  registry: ProviderRegistry,
  global: AccessRules,
  reader: Pick<EnvReader, 'problem'>,
): void {
  for (const provider of providers) {
    const preset = findPreset(provider.type, registry);
    if (preset?.unverifiedEmails) refuseEmailRules(provider, preset.displayName, global, reader);
  }
}

function refuseEmailRules(provider: ProviderSettings, name: string, global: AccessRules, reader: Pick<EnvReader, 'problem'>): void {
  const prefix = providerPrefix(provider.id);
  const own = provider.access;
  const set = [
    ...(global.emailDomains ? ['ALLOWED_EMAIL_DOMAINS'] : []),
    ...(own?.emailDomains ? [`${prefix}ALLOWED_EMAIL_DOMAINS`] : []),
    ...(own?.emails ? [`${prefix}ALLOWED_EMAILS`] : []),
    ...(own?.emailsFile ? [`${prefix}ALLOWED_EMAILS_FILE`] : []),
  ];
  if (set.length === 0) return;
  reader.problem(
    `${set.join(', ')} can never let a user of provider ${provider.id} in: ${name} does not say an address is verified, and email rules take only verified ones`,
  );
}

/**
 * `_CLAIMS=groups` without `_ALLOWED_GROUPS` carries every group the provider names, and
 * `/auth?allowed_groups=admins` takes a token's groups whichever provider gave them. A public
 * provider's users name their own (a gitlab.com group anyone can create; an Entra app role the
 * admin of any tenant assigns himself), so there only the groups the operator names are carried.
 */
export function checkSelfNamedGroups(
  providers: readonly ProviderSettings[],
  registry: ProviderRegistry,
  reader: Pick<EnvReader, 'problem'>,
): void {
  for (const provider of providers) {
    const preset = findPreset(provider.type, registry);
    if (preset?.publicUsers?.(provider) !== true || !provider.claims?.includes('groups') || provider.access?.groups) continue;
    const prefix = providerPrefix(provider.id);
    reader.problem(
      `${prefix}CLAIMS=groups would carry groups the users of a public provider name themselves, which /auth?allowed_groups would believe: set ${prefix}ALLOWED_GROUPS to the groups to carry`,
    );
  }
}
