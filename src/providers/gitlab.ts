import { pick } from './claims.js';
import { openIdConnect, profileFromSources } from './oidc.js';
import { type IssuerSettings, readBaseUrl } from './settings.js';
import { defineProvider } from './types.js';

const GITLAB_COM = 'https://gitlab.com';

/**
 * GitLab, gitlab.com or a self-hosted instance (`PROVIDER_<ID>_URL`, its address, which is its
 * issuer), a conforming OpenID provider (https://docs.gitlab.com/integration/openid_connect_provider/).
 * Its ID token carries few claims (`sub`, `email`, `email_verified`, `groups_direct`); userinfo has
 * the rest, `groups` among them: the paths (`acme`, `acme/platform`) of the groups the user is a
 * member of, directly or through an ancestor group, which `_ALLOWED_GROUPS` reads by default.
 */
export const gitlab = defineProvider<IssuerSettings>({
  ...openIdConnect,
  type: 'gitlab',
  displayName: 'GitLab',
  requiresClientSecret: true,
  variables: ['URL'],
  // Anyone can make a gitlab.com account; a self-hosted instance's users are its owner's.
  publicUsers: (settings) => settings.issuer === GITLAB_COM,
  accessVariables: ['ALLOWED_GROUPS'],
  readSettings: (reader) => ({ issuer: readBaseUrl(reader, 'URL') ?? GITLAB_COM }),
  async profile({ idTokenClaims, userinfo, settings }) {
    const sources = [idTokenClaims, await userinfo()];
    const profile = profileFromSources(sources, settings);
    if (profile.preferredUsername !== undefined) return profile;
    // Older GitLab versions documented the user name as `nickname` only, before `preferred_username`.
    const nickname = sources.map((source) => pick(source, 'nickname')).find((name) => name !== undefined);
    return nickname === undefined ? profile : { ...profile, preferredUsername: nickname };
  },
});
