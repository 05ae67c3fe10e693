import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Configuration } from 'oidc-provider';
import type { ProviderSettings } from '../providers/index.js';
import type { IssuerSettings } from '../providers/settings.js';
import { generateKeyJwk } from '../tokens/keys.js';
import { captureProviderNotices, type NoticeLevel } from './console-notices.js';

export interface DevIdp {
  readonly issuer: string;
  /** Settings for the `dev` provider, exactly as an operator would configure any OIDC issuer. */
  readonly settings: ProviderSettings<IssuerSettings>;
  close(): Promise<void>;
}

/** One client (portero), any user name signs in, profile and email claims made up from it. */
async function devConfiguration(options: DevIdpOptions, clientId: string, clientSecret: string): Promise<Configuration> {
  return {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        ...(options.postLogoutRedirectUri ? { post_logout_redirect_uris: [options.postLogoutRedirectUri] } : {}),
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        claims: async () => ({
          sub: id,
          email: `${id}@example.test`,
          email_verified: true,
          name: id,
          preferred_username: id,
        }),
      };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    jwks: { keys: [(await generateKeyJwk('RS256')) as never] },
  };
}

/**
 * A real OpenID provider (`oidc-provider`) on loopback, for development without any
 * configuration: sign in with any user name and any password. Never used in production.
 */
export interface DevIdpOptions {
  /** portero's callback for it. */
  readonly redirectUri: string;
  /** Where it sends the browser back after signing out (`/signed-out`), so `/logout` can sign out there too. */
  readonly postLogoutRedirectUri?: string;
  readonly port?: number;
  readonly host?: string;
  /** Each of oidc-provider's console notices (its quick-start warnings), taken off the console while it runs. */
  readonly onNotice?: (level: NoticeLevel, message: string) => void;
}

export async function startDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  const restoreConsole = options.onNotice ? captureProviderNotices(options.onNotice) : () => {};
  // Loaded only here, at run time: nothing else of portero needs oidc-provider.
  const { default: OidcProvider } = await import('oidc-provider');
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const server = createServer((req, res) => handle(req, res));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${host}:${port}`;
  const clientId = 'portero-dev';
  const clientSecret = randomBytes(24).toString('base64url');

  const provider = new OidcProvider(issuer, await devConfiguration(options, clientId, clientSecret));
  const callback = provider.callback();
  handle = (req, res) => void callback(req, res);

  return {
    issuer,
    settings: {
      id: 'dev',
      type: 'oidc',
      clientId,
      clientSecret,
      issuer,
      displayName: 'Development IdP (any user name)',
      responseMode: 'query',
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).finally(restoreConsole),
  };
}
