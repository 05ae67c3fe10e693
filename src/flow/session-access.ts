import { NOT_ALLOWED, PorteroError } from '../errors.js';
import type { AccessRules, Profile } from '../providers/index.js';
import { providerPrefix } from '../providers/index.js';
import type { SessionClaims } from '../shared/claims.js';
import { checkAccess } from './access.js';
import type { EmailsFiles } from './emails-file.js';
import type { ConfiguredProvider } from './provider-client.js';

/** The rules with the addresses of `_ALLOWED_EMAILS_FILE` as it is now, added to `_ALLOWED_EMAILS`. */
export async function withFileEmails(rules: AccessRules, files: EmailsFiles): Promise<AccessRules> {
  if (!rules.emailsFile) return rules;
  return { ...rules, emails: [...(rules.emails ?? []), ...(await files.emails(rules.emailsFile))] };
}

/** What a session's claims (made at sign-in) say of its user, for the access rules. */
function profileOf(claims: SessionClaims): Profile {
  const text = (name: string) => (typeof claims[name] === 'string' ? (claims[name] as string) : undefined);
  const groups = Array.isArray(claims.groups) ? claims.groups.filter((group): group is string => typeof group === 'string') : undefined;
  const [email, preferredUsername] = [text('email'), text('preferred_username')];
  return {
    subject: claims.sub.slice(claims.sub.indexOf(':') + 1),
    ...(email !== undefined ? { email, emailVerified: claims.email_verified === true } : {}),
    ...(preferredUsername !== undefined ? { preferredUsername } : {}),
    ...(groups ? { groups } : {}),
  };
}

/**
 * Refuses (`not_allowed`) to renew a session whose user the access rules, as they are now
 * (`ALLOWED_EMAIL_DOMAINS`, the provider's `_ALLOWED_*`, its emails file as last read), would no
 * longer let sign in, judged by what its claims say: taking someone out of a rule stops their
 * renewals, not only their next sign-in.
 */
export async function checkSessionAccess(
  globalRules: AccessRules,
  emailsFiles: EmailsFiles,
  provider: ConfiguredProvider,
  claims: SessionClaims,
): Promise<void> {
  const rules = await withFileEmails(provider.settings.access ?? {}, emailsFiles);
  checkAccess(profileOf(claims), [
    { prefix: '', rules: globalRules },
    { prefix: providerPrefix(provider.id), rules },
  ]);
}

/**
 * For the OpenID Provider: a session whose user the access rules now refuse (`living` throws
 * `not_allowed`) is, to the apps, ended. Their codes, refresh tokens and userinfo are refused as
 * the specifications say (invalid_grant, invalid_token) rather than with oidc-provider's 500, and
 * `prompt=none` hears `login_required` rather than a page. Any other error is thrown on.
 */
export function refusedAsEnded(err: unknown): undefined {
  if (err instanceof PorteroError && err.code === NOT_ALLOWED) return undefined;
  throw err;
}
