import { pick } from './claims.js';
import { accountRefused } from './errors.js';
import { openIdConnect, standardOidcProfile } from './oidc.js';
import { ISSUER_VARIABLES, type IssuerSettings, providerPrefix, readIssuer } from './settings.js';
import { defineProvider, type ProfileSource } from './types.js';

const SLACK_ISSUER = 'https://slack.com';

// Slack's own claims are namespaced by its URL (api.slack.com/authentication/sign-in-with-slack).
const TEAM_ID = 'https://slack.com/team_id';
const TEAM_NAME = 'https://slack.com/team_name';
const USER_IMAGE = 'https://slack.com/user_image_512';

interface SlackSettings extends IssuerSettings {
  /** `PROVIDER_<ID>_TEAM_ID`: only members of this Slack workspace sign in. */
  readonly teamId?: string;
}

/**
 * Sign in with Slack, a conforming OpenID provider whose users are in workspaces. With `_TEAM_ID`
 * it asks Slack for that workspace (`team`, which only preselects: a user can edit the request)
 * and checks the validated ID token's `https://slack.com/team_id`. The ID token has no `picture`,
 * only `https://slack.com/user_image_*` sizes; userinfo has `picture`.
 */
export const slack = defineProvider<SlackSettings>({
  ...openIdConnect,
  type: 'slack',
  displayName: 'Slack',
  requiresClientSecret: true,
  variables: [...ISSUER_VARIABLES, 'TEAM_ID'],
  // Anyone can create a Slack workspace, unless the team (or an access rule) says which.
  publicUsers: (settings) => settings.teamId === undefined,
  accessVariables: ['TEAM_ID'],
  readSettings(reader) {
    const teamId = reader.value('TEAM_ID');
    if (teamId !== undefined && !/^[A-Z][A-Z0-9]+$/.test(teamId)) {
      reader.problem(`${reader.prefix}TEAM_ID is not a Slack workspace ID (like T0123ABCD): ${JSON.stringify(teamId)}`);
    }
    return { ...readIssuer(reader, SLACK_ISSUER), ...(teamId ? { teamId } : {}) };
  },
  authorizationParams: (settings): Record<string, string> => (settings.teamId ? { team: settings.teamId } : {}),
  async profile(source: ProfileSource<SlackSettings>) {
    const userinfo = await source.userinfo();
    const profile = await standardOidcProfile({ ...source, userinfo: async () => userinfo });
    const { teamId, id } = source.settings;
    const team = source.idTokenClaims?.[TEAM_ID];
    if (teamId && team !== teamId) {
      const name = pick(source.idTokenClaims, TEAM_NAME) ?? pick(userinfo, TEAM_NAME);
      const reason = `workspace ${typeof team === 'string' ? team : 'unknown'}${name ? ` (${name})` : ''}`;
      throw accountRefused(`${providerPrefix(id)}TEAM_ID`, reason, profile.email);
    }
    const picture = profile.picture ?? pick(userinfo, USER_IMAGE) ?? pick(source.idTokenClaims, USER_IMAGE);
    return picture ? { ...profile, picture } : profile;
  },
});
