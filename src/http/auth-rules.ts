import type { Context } from 'hono';
import { accessRules, readDomains, readEmails, readGroups } from '../config/access.js';
import { BAD_REQUEST, PorteroError } from '../errors.js';
import { checkAccess } from '../flow/access.js';
import type { PorteroClaims } from '../shared/claims.js';

/**
 * `/auth?allowed_email_domains=corp.example&allowed_emails=ada@corp.example&allowed_groups=admins`:
 * rules of one location of the proxy, for one gateway in front of several apps. They only narrow who passes
 * (the login's own rules held already), read what the token carries (a verified email; the groups
 * of the provider's `_ALLOWED_GROUPS` the user is in), and refuse
 * a signed-in user who does not qualify with 403 `not_allowed`, not 401: signing in again would not
 * help. A parameter that is not a list of domains or addresses is the proxy's configuration
 * mistake: 400, named in the log, and so is one given twice, empty or misspelt.
 */
const RULES = new Set(['allowed_email_domains', 'allowed_emails', 'allowed_groups']);

/**
 * What is wrong with how the proxy wrote the rules: a rule given twice (which one would count?),
 * empty (a template whose variable expanded to nothing), or misspelt (`allowed_group`,
 * `Allowed_Emails`). Each would otherwise be read as no rule, and let everyone through.
 */
function misspeltRules(query: URLSearchParams): string[] {
  const problems: string[] = [];
  for (const name of new Set(query.keys())) {
    if (!name.toLowerCase().startsWith('allowed')) continue;
    const values = query.getAll(name);
    if (!RULES.has(name)) problems.push(`${name} is not a rule of /auth (${[...RULES].join(', ')})`);
    else if (values.length > 1) problems.push(`${name} is given ${values.length} times`);
    else if ((values[0] ?? '').replaceAll(',', '').trim() === '') problems.push(`${name} is empty`);
  }
  return problems;
}

export function checkLocationRules(c: Context, claims: PorteroClaims): void {
  // Most locations name no rule: /auth, on every request of every app, then parses no query.
  const query = c.req.url.indexOf('?');
  if (query === -1) return;
  const problems = misspeltRules(new URLSearchParams(c.req.url.slice(query + 1)));
  const reader = { problem: (message: string) => problems.push(message) };
  const emailDomains = readDomains('allowed_email_domains', c.req.query('allowed_email_domains'), reader);
  const emails = readEmails('allowed_emails', c.req.query('allowed_emails'), reader);
  const groups = readGroups(c.req.query('allowed_groups'));
  if (problems.length > 0) {
    throw new PorteroError(BAD_REQUEST, 'a rule of /auth is not readable', { detail: { reason: problems[0]?.slice(0, 200) } });
  }
  if (emailDomains === undefined && emails === undefined && groups === undefined) return;
  checkAccess(
    {
      subject: claims.sub,
      ...(claims.email !== undefined ? { email: claims.email } : {}),
      ...(claims.email_verified !== undefined ? { emailVerified: claims.email_verified } : {}),
      ...(claims.groups !== undefined ? { groups: claims.groups } : {}),
    },
    [{ prefix: '/auth ', rules: accessRules(emailDomains, emails, undefined, groups) }],
  );
}
