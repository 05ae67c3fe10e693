import { HttpResponse, http, type JsonBodyType } from 'msw';
import { MockTokenEndpoint } from './oauth-server.js';

export const DISCORD_CLIENT_ID = '157730590492196864';
export const DISCORD_CLIENT_SECRET = 'discord-secret';

/**
 * Discord at the network edge: its token endpoint (HTTP Basic or the form body, RFC 6749 errors, the
 * answer of https://discord.com/developers/docs/topics/oauth2#authorization-code-grant) and
 * `GET /users/@me` (https://discord.com/developers/docs/resources/user#get-current-user).
 */
export class MockDiscord {
  user: JsonBodyType = {};
  meStatus = 200;
  readonly token = new MockTokenEndpoint({
    url: 'https://discord.com/api/oauth2/token',
    clientId: DISCORD_CLIENT_ID,
    clientSecret: DISCORD_CLIENT_SECRET,
    methods: ['client_secret_basic', 'client_secret_post'],
    answer: (accessToken) => ({
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 604800,
      refresh_token: 'D43f5y0ahjqew82jZ4NViEr2YafMKhue',
      scope: 'identify email',
    }),
    refusal: (error) =>
      error === 'invalid_grant'
        ? { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid "code" in request.' } }
        : { status: 401, body: { error: 'invalid_client' } },
  });

  authorize(authorizationUrl: URL): URLSearchParams {
    return this.token.approve(authorizationUrl, 'https://discord.com/oauth2/authorize');
  }

  handlers() {
    return [
      this.token.handler(),
      http.get('https://discord.com/api/users/@me', ({ request }) => {
        if (!this.token.authorized(request)) return HttpResponse.json({ message: '401: Unauthorized', code: 0 }, { status: 401 });
        if (this.meStatus !== 200) return HttpResponse.json({ message: 'Internal Server Error', code: 0 }, { status: this.meStatus });
        return HttpResponse.json(this.user);
      }),
    ];
  }
}
