import { asObject, pick } from './claims.js';
import { profileRefused } from './errors.js';
import { publicOAuth2Service } from './oauth2.js';
import { defineProvider, type JsonObject } from './types.js';

/**
 * The Graph API version portero speaks, in each of Facebook's URLs. Facebook serves a version about
 * two years after the next one ships (https://developers.facebook.com/docs/graph-api/changelog);
 * raise it here, in one place, before this one goes.
 */
export const GRAPH_API_VERSION = 'v24.0';

const GRAPH = `https://graph.facebook.com/${GRAPH_API_VERSION}`;

/**
 * `picture.data.url`, unless `is_silhouette` says it is Facebook's grey figure for a user who set
 * no picture (https://developers.facebook.com/docs/graph-api/reference/user/picture/).
 */
function pictureOf(user: JsonObject | undefined): string | undefined {
  const data = asObject(asObject(user?.picture)?.data);
  return data?.is_silhouette === true ? undefined : pick(data, 'url');
}

/**
 * Facebook Login is OAuth 2.0, not OpenID: the profile comes from the Graph API's
 * `GET /me?fields=id,name,email,picture` (https://developers.facebook.com/docs/graph-api/reference/user/).
 * The subject is the app-scoped `id` (another app sees another id for the same person). `email` is
 * absent when the user has none (an account made with a phone number) or declined the permission.
 *
 * The address is never taken as verified. The Graph API has no verification field and its
 * reference promises only "a valid email address"; that Facebook returns only confirmed addresses is
 * folklore from experiments, never documented. Auth.js and oauth2-proxy pass it on without saying
 * (oauth2-proxy then trusts it for `--email-domain`); better-auth and django-allauth call it
 * unverified. Unsure, portero fails closed: email rules refuse a Facebook user.
 */
export const facebook = defineProvider({
  type: 'facebook',
  displayName: 'Facebook',
  ...publicOAuth2Service,
  scopes: ['email', 'public_profile'],
  unverifiedEmails: true,
  // Facebook takes the app secret as a request parameter (its "manually build a login flow" guide);
  // HTTP Basic is not documented.
  tokenAuthMethod: 'client_secret_post',
  server: () => ({
    kind: 'endpoints',
    endpoints: {
      authorization: `https://www.facebook.com/${GRAPH_API_VERSION}/dialog/oauth`,
      token: `${GRAPH}/oauth/access_token`,
      userinfo: `${GRAPH}/me?fields=id,name,email,picture`,
    },
  }),
  async profile(source) {
    const user = await source.userinfo();
    const subject = pick(user, 'id');
    if (!subject) throw profileRefused('Facebook /me response has no id');
    const email = pick(user, 'email');
    return {
      subject,
      email,
      emailVerified: email === undefined ? undefined : false,
      name: pick(user, 'name'),
      picture: pictureOf(user),
    };
  },
});
