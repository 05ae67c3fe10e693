import { parseEnv } from 'node:util';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { network, TestBrowser } from '../support/browser.js';
import { blocksCoveredBy, withOrigin } from '../support/code-blocks.js';
import { type PorteroOpStack, signInToApp, startPorteroOp } from '../support/portero-op.js';
import { PYTHON, PYTHON_ENV } from '../support/python.js';
import { runToExit } from '../support/process.js';

// docs/apps.md as an operator and a Django team paste it: the apps' settings registered by a real
// gateway, and the mozilla-django-oidc settings and logout function run by Python against it (a
// stand-in for django.conf, which is all of Django they touch): every endpoint they name is the
// provider's own, and the logout URL they build reaches its "Sign out?" page for the app.

const blocks = blocksCoveredBy('test/docs/apps.test.ts');
const envBlock = blocks.find((block) => block.lang === 'sh')!;
const [settingsBlock, authBlock] = blocks.filter((block) => block.lang === 'python');

/** The block's variables, as portero reads a `.env` file (Node's parseEnv: comments, quotes). */
const envOf = (text: string): Record<string, string> => parseEnv(text) as Record<string, string>;

/** Runs the Django settings and `portero_logout_url` with `django.conf.settings` made from them; prints what they hold and build. */
const DJANGO_STAND_IN = `
import json, os, sys, types
django, conf = types.ModuleType("django"), types.ModuleType("django.conf")
django.conf = conf
sys.modules["django"], sys.modules["django.conf"] = django, conf
settings = {}
exec(os.environ["SETTINGS"], settings)
settings = {name: value for name, value in settings.items() if name.isupper()}
conf.settings = types.SimpleNamespace(**settings)
auth = {}
exec(os.environ["AUTH"], auth)
request = types.SimpleNamespace(session={"oidc_id_token": os.environ["ID_TOKEN"]})
print(json.dumps({"settings": settings, "logout": auth["portero_logout_url"](request)}))
`;

let stack: PorteroOpStack;
beforeAll(async () => {
  const { PUBLIC_URL: _, ...apps } = envOf(envBlock.text);
  stack = await startPorteroOp(apps);
});
afterAll(() => stack.close());

describe('docs/apps.md', () => {
  it('registers the two apps it shows, as written', () => {
    const config = parseConfig(envOf(envBlock.text));
    expect(config.apps.find((app) => app.clientId === 'team-wiki')?.name).toBe('Team Wiki');
    expect(new Map(config.apps.map((app) => [app.clientId, app.secret !== undefined]))).toEqual(
      new Map([
        ['team-wiki', true],
        ['dashboard', false],
      ]),
    );
  });

  it('gives Django settings whose endpoints are the provider’s, and a logout URL that reaches its sign-out page', async () => {
    const metadata = (await (await fetch(`${stack.publicUrl}/.well-known/openid-configuration`)).json()) as Record<string, string>;
    // A sign-in to team-wiki as its registered redirect URI receives it, for the ID token its logout hints with.
    const env = envOf(envBlock.text);
    const config = await client.discovery(
      new URL(stack.publicUrl),
      'team-wiki',
      env.APP_TEAM_WIKI_SECRET,
      client.ClientSecretBasic(env.APP_TEAM_WIKI_SECRET!),
      { execute: [client.allowInsecureRequests] },
    );
    const redirectUri = env.APP_TEAM_WIKI_REDIRECT_URIS!;
    const state = client.randomState();
    const browser = new TestBrowser();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'openid email profile', state });
    const walk = await signInToApp(browser, url, { appRedirect: redirectUri, upstream: stack.upstream.issuer });
    const tokens = await client.authorizationCodeGrant(config, walk.callback, { expectedState: state });

    const ran = await runToExit(PYTHON, ['-c', DJANGO_STAND_IN], {
      env: {
        ...PYTHON_ENV,
        SETTINGS: withOrigin(settingsBlock!.text, stack.publicUrl),
        AUTH: authBlock!.text,
        ID_TOKEN: tokens.id_token!,
      },
    });
    expect(ran.stderr).toBe('');
    const { settings, logout } = JSON.parse(ran.stdout) as { settings: Record<string, unknown>; logout: string };
    expect(settings).toMatchObject({
      OIDC_RP_CLIENT_ID: 'team-wiki',
      OIDC_RP_CLIENT_SECRET: env.APP_TEAM_WIKI_SECRET,
      OIDC_OP_AUTHORIZATION_ENDPOINT: metadata.authorization_endpoint,
      OIDC_OP_TOKEN_ENDPOINT: metadata.token_endpoint,
      OIDC_OP_USER_ENDPOINT: metadata.userinfo_endpoint,
      OIDC_OP_JWKS_ENDPOINT: metadata.jwks_uri,
      OIDC_RP_SIGN_ALGO: 'RS256',
    });
    expect(new URL(logout).origin + new URL(logout).pathname).toBe(metadata.end_session_endpoint);
    const page = await browser.get(network, logout, undefined, { from: 'https://wiki.partner.example' });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Team Wiki');
  });
});
