import { describe, expect, it } from 'vitest';
import { inspectConfig, parseConfig } from '../../src/config/parse.js';
import { PRODUCTION_ENV } from '../support/app.js';
import { refusedProblems, startupProblems } from '../support/config.js';

// portero's OpenID Provider's apps, from APP_<ID>_* (issue 11). Each rule of what an app may
// register has a test here that fails when the rule is removed.

const PUBLIC_URL = 'https://auth.example.com';
/** Long enough, and of characters every client sends as they are. */
const SECRET = 'a3f1c9e0b7d24e6f8a1b3c5d7e9f0a2b4c6d8e0f';

/** A confidential app with every setting, and a public one with only what it needs. */
const TWO_APPS = {
  PUBLIC_URL,
  APP_MY_WIKI_SECRET: SECRET,
  APP_MY_WIKI_REDIRECT_URIS: 'https://wiki.example.org/oidc/callback, https://wiki.example.org/alt/callback',
  APP_MY_WIKI_POST_LOGOUT_REDIRECT_URIS: 'https://wiki.example.org/',
  APP_MY_WIKI_BACKCHANNEL_LOGOUT_URI: 'https://wiki.example.org/oidc/backchannel-logout',
  APP_MY_WIKI_NAME: 'Team Wiki',
  APP_MY_WIKI_OFFLINE_ACCESS: 'true',
  APP_MY_WIKI_RESOURCES: 'https://api.wiki.example.org',
  APP_SPA_REDIRECT_URIS: 'https://spa.example.net/callback',
};

/** One app `wiki` with `settings` over a valid redirect URI. */
const wikiWith = (settings: Record<string, string>) => ({
  PUBLIC_URL,
  APP_WIKI_REDIRECT_URIS: 'https://wiki.example.org/cb',
  ...settings,
});

describe('APP_<ID>_* registers an app of the OpenID Provider', () => {
  it('by client id <id>, lower-cased with _ as -: its secret, URIs, name and refresh-token policy; a public one with its defaults', () => {
    const config = parseConfig(TWO_APPS);
    expect(config.apps).toEqual([
      {
        clientId: 'my-wiki',
        secret: SECRET,
        redirectUris: ['https://wiki.example.org/oidc/callback', 'https://wiki.example.org/alt/callback'],
        postLogoutRedirectUris: ['https://wiki.example.org/'],
        backchannelLogoutUri: 'https://wiki.example.org/oidc/backchannel-logout',
        name: 'Team Wiki',
        offlineAccess: true,
        resources: ['https://api.wiki.example.org'],
      },
      {
        clientId: 'spa',
        redirectUris: ['https://spa.example.net/callback'],
        postLogoutRedirectUris: [],
        name: 'spa',
        offlineAccess: false,
        resources: [],
      },
    ]);
    expect(config.warnings).toEqual([]);
  });

  it('starts production with apps as written', () => {
    expect(parseConfig({ ...PRODUCTION_ENV, ...providerEnv(), ...TWO_APPS }).apps.map((app) => app.clientId)).toEqual(['my-wiki', 'spa']);
  });

  it('is frozen through: no app, list or URI can change after start-up', () => {
    const { apps } = parseConfig(TWO_APPS);
    expect(Object.isFrozen(apps)).toBe(true);
    for (const app of apps) {
      expect(Object.isFrozen(app)).toBe(true);
      expect(Object.isFrozen(app.redirectUris)).toBe(true);
      expect(Object.isFrozen(app.postLogoutRedirectUris)).toBe(true);
    }
    const uris = apps[0]?.redirectUris as string[];
    expect(() => uris.push('https://evil.example/cb')).toThrow(TypeError);
  });

  it('registers none without APP_* variables: the provider stays off', () => {
    expect(parseConfig({ PUBLIC_URL }).apps).toEqual([]);
  });
});

/** A provider, so that production starts. */
function providerEnv() {
  return {
    PROVIDER_CORP_TYPE: 'oidc',
    PROVIDER_CORP_ISSUER: 'https://sso.corp.example.com',
    PROVIDER_CORP_CLIENT_ID: 'portero',
    PROVIDER_CORP_CLIENT_SECRET: 'secret',
  };
}

describe("an app's secret", () => {
  it('is absent for a public client', () => {
    expect(parseConfig(wikiWith({})).apps[0]?.secret).toBeUndefined();
  });

  it('has at least 32 characters, as COOKIE_SECRET', () => {
    const short = 'f'.repeat(31);
    expect(refusedProblems(wikiWith({ APP_WIKI_SECRET: short }))).toEqual([
      'APP_WIKI_SECRET must be at least 32 characters, like COOKIE_SECRET (try: openssl rand -hex 32)',
    ]);
    expect(parseConfig(wikiWith({ APP_WIKI_SECRET: 'f'.repeat(32) })).apps[0]?.secret).toBe('f'.repeat(32));
  });

  it('holds no + or %, which a client that does not form-encode it for HTTP Basic would send as they are', () => {
    expect(refusedProblems(wikiWith({ APP_WIKI_SECRET: `${'b'.repeat(40)}+/=` }))).toEqual([
      'APP_WIKI_SECRET must not hold + or %, which clients encode differently for HTTP Basic (try: openssl rand -hex 32)',
    ]);
    expect(refusedProblems(wikiWith({ APP_WIKI_SECRET: `${'b'.repeat(40)}%41` }))).toHaveLength(1);
    // `/` and `=` of base64 decode to themselves: allowed.
    expect(startupProblems(wikiWith({ APP_WIKI_SECRET: `${'b'.repeat(40)}/=` }))).toEqual([]);
  });

  it('set empty is a problem, not a public client: an unfilled line of a template', () => {
    expect(refusedProblems(wikiWith({ APP_WIKI_SECRET: '' }))).toEqual([
      "APP_WIKI_SECRET is empty: set the app's secret, or unset APP_WIKI_SECRET for a public client",
    ]);
  });
});

describe("an app's redirect URIs", () => {
  const problemsFor = (uris: string) => refusedProblems(wikiWith({ APP_WIKI_REDIRECT_URIS: uris }));

  it('are required', () => {
    expect(refusedProblems({ PUBLIC_URL, APP_WIKI_NAME: 'Wiki' })).toEqual([
      'APP_WIKI_REDIRECT_URIS is missing, yet other APP_WIKI_* variables are set: where may the app be sent back after sign-in?',
    ]);
  });

  it('are absolute URLs', () => {
    expect(problemsFor('/oidc/callback')).toEqual([
      'APP_WIKI_REDIRECT_URIS entry 1 "/oidc/callback" is not an absolute URL (like https://app.example.com/callback)',
    ]);
    expect(problemsFor('https:/wiki.example.org/cb')).toEqual([
      'APP_WIKI_REDIRECT_URIS entry 1 "https:/wiki.example.org/cb" is not an absolute URL (like https://app.example.com/callback)',
    ]);
  });

  it('are https, or http on a loopback host only', () => {
    expect(problemsFor('https://wiki.example.org/cb, http://wiki.example.org/cb')).toEqual([
      'APP_WIKI_REDIRECT_URIS entry 2 "http://wiki.example.org/cb" uses plain http on a non-loopback host (wiki.example.org); use https',
    ]);
    const loopback = 'http://localhost:8000/cb,http://127.0.0.1:8000/cb,http://[::1]:8000/cb';
    expect(parseConfig(wikiWith({ APP_WIKI_REDIRECT_URIS: loopback })).apps[0]?.redirectUris).toHaveLength(3);
  });

  it('refuse a custom scheme of a native app, saying so', () => {
    expect(problemsFor('com.example.app:/oauth2redirect')).toEqual([
      'APP_WIKI_REDIRECT_URIS entry 1 "com.example.app:/oauth2redirect" has the custom scheme com.example.app, of a native app: not supported; use https (http only on a loopback host)',
    ]);
  });

  it('have no * anywhere: they are matched exactly', () => {
    for (const uri of ['https://*.example.org/cb', 'https://wiki.example.org/*', 'https://wiki.example.org/cb?next=*']) {
      expect(problemsFor(uri)).toEqual([
        `APP_WIKI_REDIRECT_URIS entry 1 ${JSON.stringify(uri)} has a *: no wildcards, every URI is matched exactly; list each one`,
      ]);
    }
  });

  it('have no fragment, not even an empty one', () => {
    for (const uri of ['https://wiki.example.org/cb#done', 'https://wiki.example.org/cb#']) {
      expect(problemsFor(uri)).toEqual([
        `APP_WIKI_REDIRECT_URIS entry 1 ${JSON.stringify(uri)} has a #fragment, which a redirect URI must not have (RFC 6749 3.1.2)`,
      ]);
    }
  });

  it('carry no user name or password, and the message does not repeat them', () => {
    const problems = problemsFor('https://wiki.example.org/cb,https://admin:hunter2-pass@wiki.example.org/cb');
    expect(problems).toEqual([
      'APP_WIKI_REDIRECT_URIS entry 2 carries a user name or password (not shown here): a registered URI holds none',
    ]);
    for (const uri of [
      'https://token-only@wiki.example.org/cb',
      'https:admin:hunter2-pass@wiki.example.org/cb',
      'admin:hunter2-pass@wiki',
    ]) {
      expect(problemsFor(uri)).toEqual([
        'APP_WIKI_REDIRECT_URIS entry 1 carries a user name or password (not shown here): a registered URI holds none',
      ]);
    }
    // An @ in the query or fragment is no user name.
    expect(startupProblems(wikiWith({ APP_WIKI_REDIRECT_URIS: 'https://wiki.example.org/cb?for=ada@example.org' }))).toEqual([]);
    expect(problems.join('\n')).not.toContain('hunter2-pass');
  });

  it('are listed once each, as a parser reads them', () => {
    expect(problemsFor('https://wiki.example.org/cb, https://wiki.example.org/cb')).toEqual([
      'APP_WIKI_REDIRECT_URIS entry 2 "https://wiki.example.org/cb" is entry 1 again: list each URI once',
    ]);
    expect(problemsFor('https://wiki.example.org/cb,https://WIKI.example.org:443/cb')).toEqual([
      'APP_WIKI_REDIRECT_URIS entry 2 "https://WIKI.example.org:443/cb" is entry 1 again: list each URI once',
    ]);
  });

  it('are separated by commas, not spaces', () => {
    expect(problemsFor('https://wiki.example.org/cb https://wiki.example.org/alt')).toEqual([
      'APP_WIKI_REDIRECT_URIS entry 1 "https://wiki.example.org/cb https://wiki.example.org/alt" holds a space: separate URIs with commas',
    ]);
  });

  it('keep their query: it is part of what is compared', () => {
    expect(parseConfig(wikiWith({ APP_WIKI_REDIRECT_URIS: 'https://wiki.example.org/cb?tenant=a' })).apps[0]?.redirectUris).toEqual([
      'https://wiki.example.org/cb?tenant=a',
    ]);
  });
});

describe("an app's post-logout redirect URIs and back-channel logout URI", () => {
  it('follow the redirect URIs’ rules', () => {
    expect(
      refusedProblems(
        wikiWith({
          APP_WIKI_POST_LOGOUT_REDIRECT_URIS: 'https://wiki.example.org/bye, http://wiki.example.org/bye, https://*.example.org/',
          APP_WIKI_BACKCHANNEL_LOGOUT_URI: 'https://wiki.example.org/logout#now',
        }),
      ),
    ).toEqual([
      'APP_WIKI_POST_LOGOUT_REDIRECT_URIS entry 2 "http://wiki.example.org/bye" uses plain http on a non-loopback host (wiki.example.org); use https',
      'APP_WIKI_POST_LOGOUT_REDIRECT_URIS entry 3 "https://*.example.org/" has a *: no wildcards, every URI is matched exactly; list each one',
      'APP_WIKI_BACKCHANNEL_LOGOUT_URI "https://wiki.example.org/logout#now" has a #fragment, which a redirect URI must not have (RFC 6749 3.1.2)',
    ]);
    expect(refusedProblems(wikiWith({ APP_WIKI_BACKCHANNEL_LOGOUT_URI: 'http://wiki.example.org/logout' }))).toHaveLength(1);
    expect(
      refusedProblems(wikiWith({ APP_WIKI_POST_LOGOUT_REDIRECT_URIS: 'https://wiki.example.org/bye,https://wiki.example.org/bye' })),
    ).toHaveLength(1);
  });

  it('take one back-channel URI, not a list', () => {
    expect(refusedProblems(wikiWith({ APP_WIKI_BACKCHANNEL_LOGOUT_URI: 'https://a.example.org/bc,https://b.example.org/bc' }))).toEqual([
      'APP_WIKI_BACKCHANNEL_LOGOUT_URI takes one URI, not a list (a comma in it is written %2C)',
    ]);
  });

  it('are optional', () => {
    expect(parseConfig(wikiWith({})).apps[0]).toMatchObject({ postLogoutRedirectUris: [], name: 'wiki' });
    expect(parseConfig(wikiWith({})).apps[0]?.backchannelLogoutUri).toBeUndefined();
  });
});

describe("an app's name and refresh-token policy", () => {
  it('name: one line of plain text, at most 60 characters', () => {
    expect(refusedProblems(wikiWith({ APP_WIKI_NAME: 'Wiki\nSign in here' }))).toEqual([
      'APP_WIKI_NAME must be one line of text, without control characters',
    ]);
    expect(refusedProblems(wikiWith({ APP_WIKI_NAME: 'W'.repeat(61) }))).toEqual(['APP_WIKI_NAME must be at most 60 characters, got 61']);
    expect(parseConfig(wikiWith({ APP_WIKI_NAME: 'W'.repeat(60) })).apps[0]?.name).toBe('W'.repeat(60));
  });

  it('RESOURCES: the app’s APIs, by the redirect URIs’ rules; none by default', () => {
    expect(parseConfig(wikiWith({ APP_WIKI_RESOURCES: 'https://api.example.org, http://127.0.0.1:9000/api' })).apps[0]?.resources).toEqual([
      'https://api.example.org',
      'http://127.0.0.1:9000/api',
    ]);
    expect(refusedProblems(wikiWith({ APP_WIKI_RESOURCES: 'http://api.example.org' }))).toEqual([
      expect.stringContaining('APP_WIKI_RESOURCES'),
    ]);
    expect(refusedProblems(wikiWith({ APP_WIKI_RESOURCES: 'https://api.example.org/#x' }))).toEqual([
      expect.stringContaining('APP_WIKI_RESOURCES'),
    ]);
  });

  it('OFFLINE_ACCESS: true or false, false by default', () => {
    expect(parseConfig(wikiWith({ APP_WIKI_OFFLINE_ACCESS: 'TRUE' })).apps[0]?.offlineAccess).toBe(true);
    expect(parseConfig(wikiWith({ APP_WIKI_OFFLINE_ACCESS: 'false' })).apps[0]?.offlineAccess).toBe(false);
    expect(refusedProblems(wikiWith({ APP_WIKI_OFFLINE_ACCESS: 'yes' }))).toEqual([
      'APP_WIKI_OFFLINE_ACCESS must be true or false, got "yes"',
    ]);
  });
});

describe('the client ids', () => {
  it('are letters and digits with single hyphens', () => {
    expect(refusedProblems({ PUBLIC_URL, APP__WIKI_REDIRECT_URIS: 'https://wiki.example.org/cb' })).toEqual([
      'app id "-wiki" (from APP__WIKI_*) must be letters and digits separated by single underscores, like APP_MY_WIKI_*',
    ]);
    expect(refusedProblems({ PUBLIC_URL, 'APP_WIKI.PROD_REDIRECT_URIS': 'https://wiki.example.org/cb' })).toEqual([
      'app id "wiki.prod" (from APP_WIKI.PROD_*) must be letters and digits separated by single underscores, like APP_MY_WIKI_*',
    ]);
  });

  it('are each one app’s: two ids that make the same client id are a problem', () => {
    expect(
      refusedProblems({
        PUBLIC_URL,
        APP_WIKI_REDIRECT_URIS: 'https://wiki.example.org/cb',
        APP_Wiki_REDIRECT_URIS: 'https://other.example.org/cb',
      }),
    ).toEqual(['APP_Wiki_* and APP_WIKI_* both register the client id wiki: give one app another id']);
  });

  it('are not JWT_AUDIENCE: the apps’ tokens are told from portero’s own by aud', () => {
    expect(refusedProblems({ ...wikiWith({}), JWT_AUDIENCE: 'wiki' })).toEqual([
      "app wiki has the client id JWT_AUDIENCE names: its tokens (aud wiki) could not be told from portero's own; rename the app or JWT_AUDIENCE",
    ]);
    expect(startupProblems({ ...wikiWith({}), JWT_AUDIENCE: 'gateway' })).toEqual([]);
  });
});

describe('JWT_ISSUER with apps', () => {
  it('must be PUBLIC_URL, the provider’s issuer', () => {
    expect(refusedProblems({ ...wikiWith({}), JWT_ISSUER: 'https://tokens.example.com' })).toEqual([
      "JWT_ISSUER (https://tokens.example.com) must be PUBLIC_URL (https://auth.example.com) when apps are registered (APP_<ID>_*): portero's OpenID Provider issues as PUBLIC_URL, and its discovery document names one issuer; unset JWT_ISSUER or make it PUBLIC_URL",
    ]);
    expect(startupProblems({ ...wikiWith({}), JWT_ISSUER: PUBLIC_URL })).toEqual([]);
  });

  it('may be anything without apps, as before', () => {
    expect(startupProblems({ PUBLIC_URL, JWT_ISSUER: 'https://tokens.example.com' })).toEqual([]);
  });
});

describe('APP_* variables that are no app setting', () => {
  it('beside an app’s settings: a problem naming the app’s settings', () => {
    expect(refusedProblems(wikiWith({ APP_WIKI_REDIRECT_URI: 'https://wiki.example.org/other' }))).toEqual([
      'APP_WIKI_REDIRECT_URI is not a setting of app wiki (its settings: APP_WIKI_SECRET, APP_WIKI_REDIRECT_URIS, APP_WIKI_POST_LOGOUT_REDIRECT_URIS, APP_WIKI_BACKCHANNEL_LOGOUT_URI, APP_WIKI_NAME, APP_WIKI_OFFLINE_ACCESS, APP_WIKI_RESOURCES)',
    ]);
  });

  it('of no app, looking like a misspelt setting: warned about, and start-up goes on', () => {
    const config = parseConfig({ PUBLIC_URL, APP_WIKI_REDIRECT_URI: 'https://wiki.example.org/cb', APP_BLOG_SECRT: SECRET });
    expect(config.warnings).toEqual([
      'APP_WIKI_REDIRECT_URI is not a setting of portero: did you mean APP_WIKI_REDIRECT_URIS? (it is ignored)',
      'APP_BLOG_SECRT is not a setting of portero: did you mean APP_BLOG_SECRET? (it is ignored)',
    ]);
    expect(config.apps).toEqual([]);
  });

  it("of a platform or framework (Kubernetes' service variables for a service named app, APP_ENV): left alone", () => {
    const config = parseConfig({
      PUBLIC_URL,
      APP_ENV: 'production',
      APP_SECRET: 'symfony-kernel-secret',
      APP_DEBUG: '0',
      APP_UPSTREAM: 'app:8080',
      APP_PORT: 'tcp://10.0.0.9:8080',
      APP_SERVICE_HOST: '10.0.0.9',
      APP_SERVICE_PORT: '8080',
      APP_PORT_8080_TCP_ADDR: '10.0.0.9',
    });
    expect({ warnings: config.warnings, apps: config.apps }).toEqual({ warnings: [], apps: [] });
  });
});

describe('an app with a wrong setting', () => {
  it('is not registered with a fallback in its place: what check-config inspects holds only the apps as written', () => {
    const { config, problems } = inspectConfig({
      PUBLIC_URL,
      APP_WIKI_REDIRECT_URIS: 'https://wiki.example.org/cb,http://wiki.example.org/cb',
      APP_SPA_REDIRECT_URIS: 'https://spa.example.net/cb',
    });
    expect(problems).toHaveLength(1);
    expect(config.apps.map((app) => app.clientId)).toEqual(['spa']);
  });
});

describe('every problem of the apps', () => {
  const env = {
    PUBLIC_URL,
    JWT_ISSUER: 'https://tokens.example.com',
    JWT_AUDIENCE: 'spa',
    APP_WIKI_SECRET: `${SECRET.slice(0, 20)}+`,
    APP_WIKI_REDIRECT_URIS: 'http://wiki.example.org/cb,https://wiki.example.org/*',
    APP_WIKI_BACKCHANNEL_LOGOUT_URI: 'wiki.example.org/logout',
    APP_WIKI_OFFLINE_ACCESS: 'maybe',
    APP_WIKI_SECRT: SECRET,
    APP_SPA_REDIRECT_URIS: 'https://spa.example.net/cb#x',
    APP_BLOG_NAME: 'Blog',
    FLOW_TTL: 'soon',
  };

  it('is reported at once, with the rest of the configuration’s', () => {
    expect(refusedProblems(env)).toEqual([
      'APP_WIKI_SECRT is not a setting of app wiki (its settings: APP_WIKI_SECRET, APP_WIKI_REDIRECT_URIS, APP_WIKI_POST_LOGOUT_REDIRECT_URIS, APP_WIKI_BACKCHANNEL_LOGOUT_URI, APP_WIKI_NAME, APP_WIKI_OFFLINE_ACCESS, APP_WIKI_RESOURCES)',
      'APP_WIKI_SECRET must be at least 32 characters, like COOKIE_SECRET (try: openssl rand -hex 32)',
      'APP_WIKI_SECRET must not hold + or %, which clients encode differently for HTTP Basic (try: openssl rand -hex 32)',
      'APP_WIKI_REDIRECT_URIS entry 1 "http://wiki.example.org/cb" uses plain http on a non-loopback host (wiki.example.org); use https',
      'APP_WIKI_REDIRECT_URIS entry 2 "https://wiki.example.org/*" has a *: no wildcards, every URI is matched exactly; list each one',
      'APP_WIKI_BACKCHANNEL_LOGOUT_URI "wiki.example.org/logout" is not an absolute URL (like https://app.example.com/callback)',
      'APP_WIKI_OFFLINE_ACCESS must be true or false, got "maybe"',
      'APP_SPA_REDIRECT_URIS entry 1 "https://spa.example.net/cb#x" has a #fragment, which a redirect URI must not have (RFC 6749 3.1.2)',
      'APP_BLOG_REDIRECT_URIS is missing, yet other APP_BLOG_* variables are set: where may the app be sent back after sign-in?',
      "JWT_ISSUER (https://tokens.example.com) must be PUBLIC_URL (https://auth.example.com) when apps are registered (APP_<ID>_*): portero's OpenID Provider issues as PUBLIC_URL, and its discovery document names one issuer; unset JWT_ISSUER or make it PUBLIC_URL",
      "app spa has the client id JWT_AUDIENCE names: its tokens (aud spa) could not be told from portero's own; rename the app or JWT_AUDIENCE",
      'FLOW_TTL must be a whole number from 30 to 3600, got "soon"',
    ]);
  });

  it('never quotes a secret, set or misspelt', () => {
    const text = refusedProblems(env).join('\n');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(SECRET.slice(0, 20));
  });
});
