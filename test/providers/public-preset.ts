import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { providerPrefix } from '../../src/providers/index.js';
import { PRODUCTION_ENV } from '../support/app.js';
import { startupProblems } from '../support/config.js';

/**
 * What start-up checks of a preset whose users are the general public and which has no settings of
 * its own (Facebook, Discord, Bitbucket): a client secret; no setting it does not read; and in
 * production an access rule or `_ALLOW_ALL=true`, the refusal naming the provider and the variables.
 * `env` holds its client id and secret.
 */
export function publicPresetStartup(
  id: string,
  displayName: string,
  env: Record<string, string>,
  options: { readonly unverifiedEmails?: boolean } = {},
): void {
  const prefix = providerPrefix(id);
  describe(`${id} at start-up`, () => {
    it('refuses to start without the client secret, or with a setting the preset does not read', () => {
      expect(startupProblems({ [`${prefix}CLIENT_ID`]: 'id' })).toEqual([`${prefix}CLIENT_SECRET is required for ${displayName}`]);
      expect(startupProblems({ ...env, [`${prefix}TOKEN_URL`]: 'https://example.com/token' })).toEqual([
        expect.stringMatching(new RegExp(`^${prefix}TOKEN_URL is not a setting of ${displayName} \\(its settings: ${prefix}CLIENT_ID, `)),
      ]);
    });

    it('refuses production without an access rule, naming the provider and what to set', () => {
      const set = options.unverifiedEmails ? '' : `ALLOWED_EMAIL_DOMAINS, ${prefix}ALLOWED_EMAIL_DOMAINS, ${prefix}ALLOWED_EMAILS, or `;
      expect(startupProblems({ ...PRODUCTION_ENV, ...env })).toEqual([
        `provider ${id} lets every account of a public provider sign in: set ${set}${prefix}ALLOW_ALL=true to let everyone in`,
      ]);
    });

    it('starts in production with _ALLOW_ALL=true, or with a rule of its own or of the gateway', () => {
      const emailRules = [{ [`${prefix}ALLOWED_EMAILS`]: 'ada@company.com' }, { ALLOWED_EMAIL_DOMAINS: 'company.com' }];
      for (const rule of [{ [`${prefix}ALLOW_ALL`]: 'true' }, ...(options.unverifiedEmails ? [] : emailRules)]) {
        const config = parseConfig({ ...PRODUCTION_ENV, ...env, ...rule });
        expect(config.providers, JSON.stringify(rule)).toMatchObject([{ id, type: id }]);
      }
    });

    if (options.unverifiedEmails) {
      it('refuses an email rule, which could never let one of its users in', () => {
        expect(startupProblems({ ...env, ALLOWED_EMAIL_DOMAINS: 'company.com', [`${prefix}ALLOWED_EMAILS`]: 'ada@company.com' })).toEqual([
          `ALLOWED_EMAIL_DOMAINS, ${prefix}ALLOWED_EMAILS can never let a user of provider ${id} in: ${displayName} does not say an address is verified, and email rules take only verified ones`,
        ]);
      });
    }
  });
}
