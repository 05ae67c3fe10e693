import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readEnv } from '../../src/config/env.js';
import { publicMetricsWarning } from '../../src/config/metrics.js';
import { parseConfig } from '../../src/config/parse.js';
import { refusedProblems } from '../support/config.js';
import { presets } from '../../src/providers/index.js';
import { PRODUCTION_ENV } from '../support/app.js';

const SECRET = 'x'.repeat(32);

const problemsOf = refusedProblems;

describe('parseConfig defaults', () => {
  it('runs in development with no variables at all, on its own origin', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      mode: 'development',
      server: { port: 3000, publicUrl: 'http://localhost:3000' },
      flow: { ttl: 600, publicUrl: 'http://localhost:3000', allowedRedirects: ['http://localhost:3000'], providerTimeout: 10 },
      tokens: { ttl: 3600, clockSkew: 30, revocationGrace: 0, alg: 'ES256', issuer: 'http://localhost:3000' },
      cookies: { tokenName: 'auth_token', secure: false, secretGenerated: true },
      redis: { startupWait: 5, allowEviction: false, tls: { enabled: false } },
      dev: { idp: true },
      providers: [],
    });
    expect(config.cookies.secret.length).toBeGreaterThanOrEqual(32);
    expect(config.redis.topology).toBeUndefined();
  });

  it('derives PUBLIC_URL from PORT, and trims a trailing slash off a given PUBLIC_URL', () => {
    expect(parseConfig({ PORT: '8080' }).server.publicUrl).toBe('http://localhost:8080');
    const config = parseConfig({ PUBLIC_URL: 'https://example.com/auth/' });
    expect(config.server.publicUrl).toBe('https://example.com/auth');
    expect(config.flow.publicUrl).toBe('https://example.com/auth');
    expect(config.flow.allowedRedirects).toEqual(['https://example.com']);
    expect(config.cookies.secure).toBe(true);
  });

  it('returns a frozen configuration, lists and providers included', () => {
    const config = parseConfig({
      PROVIDER_GITHUB_CLIENT_ID: 'id',
      PROVIDER_GITHUB_CLIENT_SECRET: 's',
      ALLOWED_REDIRECTS: 'https://a.example.com',
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.flow)).toBe(true);
    expect(Object.isFrozen(config.flow.allowedRedirects)).toBe(true);
    expect(Object.isFrozen(config.providers)).toBe(true);
    expect(Object.isFrozen(config.providers[0])).toBe(true);
    expect(() => (config.flow.allowedRedirects as string[]).push('https://evil.com')).toThrow(TypeError);
  });
});

describe('parseConfig problems', () => {
  it('reports every problem at once', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      JWT_ALG: 'HS256',
      COOKIE_SECRET: 'short',
      FLOW_TTL: '5',
      CLOCK_SKEW: '-1',
      PROVIDER_TIMEOUT: '0',
      REDIS_URL: 'http://redis:6379',
      ALLOWED_REDIRECTS: 'https://app.example.com/path',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'PORT must be a whole number from 0 to 65535, got "eighty"',
        'JWT_ALG must be one of ES256, EdDSA, RS256, got "HS256"',
        'COOKIE_SECRET must be at least 32 characters (try: openssl rand -base64 48)',
        'FLOW_TTL must be a whole number from 30 to 3600, got "5"',
        'CLOCK_SKEW must be a whole number from 0 to 300, got "-1"',
        'PROVIDER_TIMEOUT must be a whole number from 1 to 120, got "0"',
        'REDIS_URL must start with redis:// or rediss://',
        'ALLOWED_REDIRECTS entry "https://app.example.com/path" is not an origin (like https://app.example.com or https://*.example.com)',
      ]),
    );
    expect(problems).toHaveLength(8);
    expect(problemsOf({ PROVIDER_TIMEOUT: '121' })).toEqual(['PROVIDER_TIMEOUT must be a whole number from 1 to 120, got "121"']);
    expect(parseConfig({ PROVIDER_TIMEOUT: '3' }).flow.providerTimeout).toBe(3);
  });

  it('takes SHUTDOWN_TIMEOUT in whole seconds from 1 to 600, 10 by default', () => {
    expect(parseConfig({}).server.shutdownTimeout).toBe(10);
    expect(parseConfig({ SHUTDOWN_TIMEOUT: '25' }).server.shutdownTimeout).toBe(25);
    expect(problemsOf({ SHUTDOWN_TIMEOUT: '0' })).toEqual(['SHUTDOWN_TIMEOUT must be a whole number from 1 to 600, got "0"']);
    expect(problemsOf({ SHUTDOWN_TIMEOUT: '10s' })).toEqual(['SHUTDOWN_TIMEOUT must be a whole number from 1 to 600, got "10s"']);
  });

  it('takes REVOCATION_GRACE in whole seconds up to an hour, 0 (never) by default', () => {
    expect(parseConfig({}).tokens.revocationGrace).toBe(0);
    expect(parseConfig({ REVOCATION_GRACE: '30' }).tokens.revocationGrace).toBe(30);
    expect(problemsOf({ REVOCATION_GRACE: '3601', CLOCK_SKEW: 'x' })).toEqual([
      'CLOCK_SKEW must be a whole number from 0 to 300, got "x"',
      'REVOCATION_GRACE must be a whole number from 0 to 3600, got "3601"',
    ]);
  });

  it('names each thing production needs that is missing', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems).toHaveLength(4);
    expect(
      problems.find((line) => line.startsWith('one of REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES is required in production')),
    ).toBeDefined();
    expect(problems.find((line) => line.startsWith('COOKIE_SECRET is required in production'))).toBeDefined();
    expect(problems.find((line) => line.startsWith('JWT_KEYS is required in production'))).toBeDefined();
    expect(problems.find((line) => line.startsWith('no provider is configured'))).toBeDefined();
  });

  /** What production needs, all of it. */
  const complete = {
    NODE_ENV: 'production',
    PUBLIC_URL: 'https://auth.example.com',
    REDIS_URL: 'redis://redis:6379',
    COOKIE_SECRET: SECRET,
    JWT_KEYS: '/run/secrets/jwks.json',
    PROVIDER_GITHUB_CLIENT_ID: 'id',
    PROVIDER_GITHUB_CLIENT_SECRET: 'secret',
    ALLOWED_EMAIL_DOMAINS: 'company.com',
  };

  it('accepts a complete production configuration', () => {
    const config = parseConfig(complete);
    expect(config).toMatchObject({ mode: 'production', dev: { idp: false }, cookies: { secret: SECRET, secretGenerated: false } });
  });

  describe('production refuses what would silently weaken it', () => {
    // Regression: NODE_ENV=prod ran development mode (ephemeral keys, a built-in IdP) without a word.
    it('refuses a NODE_ENV other than production, development or test, naming the values', () => {
      for (const value of ['prod', 'Production', 'staging']) {
        expect(problemsOf({ ...complete, NODE_ENV: value })).toEqual([
          `NODE_ENV must be production, development or test (or unset, for development), got ${JSON.stringify(value)}: set NODE_ENV=production to run in production`,
        ]);
      }
      expect(parseConfig({ NODE_ENV: 'development' }).mode).toBe('development');
      expect(parseConfig({ NODE_ENV: 'test' }).mode).toBe('development');
      expect(parseConfig({ NODE_ENV: '' }).mode).toBe('development');
      expect(parseConfig(complete).mode).toBe('production');
    });

    // Regression: an http PUBLIC_URL on a public host started, and every cookie went without Secure.
    it('refuses an http PUBLIC_URL off loopback, saying to set the https address browsers use', () => {
      for (const url of ['http://auth.example.com', 'http://10.0.0.5:3000', 'http://localhost.evil.example']) {
        expect(problemsOf({ ...complete, PUBLIC_URL: url })).toEqual([
          `PUBLIC_URL must be https in production, got ${new URL(url).origin}: set it to the https address browsers use (behind a TLS-terminating proxy, the proxy's https address); without it cookies go without Secure. Plain http is for a loopback host only`,
        ]);
      }
      // Loopback never leaves the machine (compose's http://localhost:8080, a test's nginx on 127.0.0.1).
      for (const url of ['http://localhost:8080', 'http://127.0.0.1:3000', 'http://[::1]:3000']) {
        expect(parseConfig({ ...complete, PUBLIC_URL: url }).cookies.secure).toBe(false);
      }
      // Development keeps plain http anywhere: it is for a machine of one's own.
      expect(parseConfig({ PUBLIC_URL: 'http://devbox.internal:3000' }).server.publicUrl).toBe('http://devbox.internal:3000');
    });

    it('listens on loopback only in development unless HOST is set; on every address in production', () => {
      expect(parseConfig({}).server.host).toBe('127.0.0.1');
      expect(parseConfig({ NODE_ENV: 'test' }).server.host).toBe('127.0.0.1');
      expect(parseConfig({ HOST: '0.0.0.0' }).server.host).toBe('0.0.0.0');
      expect(parseConfig(complete).server.host).toBe('0.0.0.0');
      expect(parseConfig({ ...complete, HOST: '10.0.0.5' }).server.host).toBe('10.0.0.5');
    });
  });

  it('reads REDIS_ALLOW_EVICTION as true or false, and refuses anything else', () => {
    expect(parseConfig({ REDIS_ALLOW_EVICTION: 'true' }).redis.allowEviction).toBe(true);
    expect(parseConfig({ REDIS_ALLOW_EVICTION: 'FALSE' }).redis.allowEviction).toBe(false);
    expect(problemsOf({ REDIS_ALLOW_EVICTION: 'yes' })).toEqual(['REDIS_ALLOW_EVICTION must be true or false, got "yes"']);
  });

  it('refuses a COOKIE_SECRET shorter than 32 characters', () => {
    expect(problemsOf({ COOKIE_SECRET: 'y'.repeat(31) })).toEqual([
      'COOKIE_SECRET must be at least 32 characters (try: openssl rand -base64 48)',
    ]);
    expect(parseConfig({ COOKIE_SECRET: 'y'.repeat(32) }).cookies.secret).toBe('y'.repeat(32));
  });

  it('accepts only origins and subdomain patterns in ALLOWED_REDIRECTS', () => {
    const config = parseConfig({ ALLOWED_REDIRECTS: ' https://app.example.com , https://*.example.com,http://localhost:5173 ' });
    expect(config.flow.allowedRedirects).toEqual(['https://app.example.com', 'https://*.example.com', 'http://localhost:5173']);
    const bad = [
      'https://a.example.com/app',
      'not a url',
      'ftp://files.example.com',
      'https://u:p@b.example.com',
      'https://*.*.example.com',
      // A host of characters no DNS name holds: as a CSP source, `;` would end form-action and start a directive.
      'https://app.example.com;sandbox',
      'https://app%3Bsandbox.example.com',
      "https://app.example.com'",
    ];
    const problems = problemsOf({ ALLOWED_REDIRECTS: bad.join(',') });
    expect(problems).toHaveLength(bad.length);
    for (const entry of bad) {
      expect(problems).toContain(
        `ALLOWED_REDIRECTS entry ${JSON.stringify(entry)} is not an origin (like https://app.example.com or https://*.example.com)`,
      );
    }
  });

  it('refuses a wildcard over a public suffix, of the ICANN section or the private one, but not a domain under one', () => {
    const config = parseConfig({ ALLOWED_REDIRECTS: 'https://*.example.co.uk,https://*.octocat.github.io,https://github.io' });
    expect(config.flow.allowedRedirects).toEqual(['https://*.example.co.uk', 'https://*.octocat.github.io', 'https://github.io']);
    const bad = [
      ['https://*.com', 'com', 'https://*.example.com'],
      ['https://*.co.uk', 'co.uk', 'https://*.example.co.uk'],
      ['https://*.github.io', 'github.io', 'https://*.example.github.io'],
      ['https://*.s3.amazonaws.com', 's3.amazonaws.com', 'https://*.example.s3.amazonaws.com'],
      ['http://*.localhost:8080', 'localhost', 'http://*.example.localhost'],
    ];
    expect(problemsOf({ ALLOWED_REDIRECTS: bad.map(([entry]) => entry).join(',') })).toEqual(
      bad.map(
        ([entry, suffix, example]) =>
          `ALLOWED_REDIRECTS entry ${JSON.stringify(entry)} covers the public suffix ${suffix} (Public Suffix List), so every site registered under it would be a redirect target: name a domain of your own, like ${example}`,
      ),
    );
  });

  it('refuses an entry whose host ends with a dot: a browser treats it as another origin', () => {
    expect(problemsOf({ ALLOWED_REDIRECTS: 'https://app.example.com.,https://*.example.com.' })).toEqual(
      ['https://app.example.com.', 'https://*.example.com.'].map(
        (entry) =>
          `ALLOWED_REDIRECTS entry ${JSON.stringify(entry)} ends its host with a dot, which browsers treat as another origin: leave the dot out`,
      ),
    );
  });
});

describe('parseConfig cookies and logs', () => {
  it('refuses a COOKIE_DOMAIN that browsers would refuse for PUBLIC_URL', () => {
    expect(parseConfig({ PUBLIC_URL: 'https://auth.example.com', COOKIE_DOMAIN: '.example.com' }).cookies.domain).toBe('.example.com');
    expect(parseConfig({ PUBLIC_URL: 'https://example.com', COOKIE_DOMAIN: 'example.com' }).cookies.domain).toBe('example.com');
    expect(problemsOf({ PUBLIC_URL: 'https://auth.example.com', COOKIE_DOMAIN: '.other.example' })).toEqual([
      "COOKIE_DOMAIN .other.example does not contain PUBLIC_URL's host auth.example.com: browsers would refuse the token cookie",
    ]);
    expect(problemsOf({ PUBLIC_URL: 'https://badexample.com', COOKIE_DOMAIN: 'example.com' })).toHaveLength(1);
  });

  it('refuses token cookie names whose prefix browsers would not honour', () => {
    expect(problemsOf({ TOKEN_COOKIE_NAME: '__Secure-auth' })).toEqual(['TOKEN_COOKIE_NAME __Secure-auth needs an https PUBLIC_URL']);
    expect(problemsOf({ PUBLIC_URL: 'https://auth.example.com', COOKIE_DOMAIN: '.example.com', TOKEN_COOKIE_NAME: '__Host-auth' })).toEqual(
      ['TOKEN_COOKIE_NAME __Host-auth cannot be used with COOKIE_DOMAIN'],
    );
    expect(parseConfig({ PUBLIC_URL: 'https://auth.example.com', TOKEN_COOKIE_NAME: '__Host-auth' }).cookies.tokenName).toBe('__Host-auth');
  });

  it('names the token cookie __Host-auth_token under https without COOKIE_DOMAIN, so no sibling subdomain can plant one', () => {
    expect(parseConfig({ PUBLIC_URL: 'https://auth.example.com' }).cookies.tokenName).toBe('__Host-auth_token');
    expect(parseConfig({ PUBLIC_URL: 'https://auth.example.com', COOKIE_DOMAIN: '.example.com' }).cookies.tokenName).toBe('auth_token');
    expect(parseConfig({ PUBLIC_URL: 'http://localhost:3000' }).cookies.tokenName).toBe('auth_token');
    expect(parseConfig({ PUBLIC_URL: 'https://auth.example.com', TOKEN_COOKIE_NAME: 'session' }).cookies.tokenName).toBe('session');
  });

  it('reads COOKIE_SECRET_PREVIOUS as a comma list, each entry as long as a secret, naming a short one by position only', () => {
    const a = 'a'.repeat(32);
    const b = 'b'.repeat(40);
    expect(parseConfig({ COOKIE_SECRET: SECRET, COOKIE_SECRET_PREVIOUS: ` ${a} ,, ${b}` }).cookies.previousSecrets).toEqual([a, b]);
    expect(parseConfig({ COOKIE_SECRET: SECRET }).cookies.previousSecrets).toEqual([]);
    const problems = problemsOf({ COOKIE_SECRET: SECRET, COOKIE_SECRET_PREVIOUS: `${a},too-short-to-be-a-secret` });
    expect(problems).toEqual(['COOKIE_SECRET_PREVIOUS entry 2 must be at least 32 characters, like COOKIE_SECRET']);
    expect(problems.join('\n')).not.toContain('too-short');
  });

  it('refuses an unknown LOG_LEVEL instead of crashing at start', () => {
    expect(problemsOf({ LOG_LEVEL: 'verbose' })).toEqual([
      'LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "verbose"',
    ]);
  });
});

describe('parseConfig metrics', () => {
  it('serves /metrics beside the routes by default, and on METRICS_PORT, at HOST unless METRICS_HOST says otherwise, when set', () => {
    expect(parseConfig({}).metrics).toEqual({ host: '127.0.0.1' });
    expect(parseConfig({ HOST: '0.0.0.0', METRICS_PORT: '9464' }).metrics).toEqual({ port: 9464, host: '0.0.0.0' });
    expect(parseConfig({ HOST: '0.0.0.0', METRICS_PORT: '9464', METRICS_HOST: '10.0.0.7' }).metrics).toEqual({
      port: 9464,
      host: '10.0.0.7',
    });
  });

  it('refuses a METRICS_PORT that is no port, or is PORT, and a METRICS_HOST without it', () => {
    expect(problemsOf({ METRICS_PORT: '0' })).toEqual(['METRICS_PORT must be a whole number from 1 to 65535, got "0"']);
    expect(problemsOf({ METRICS_PORT: 'prometheus' })).toEqual(['METRICS_PORT must be a whole number from 1 to 65535, got "prometheus"']);
    expect(problemsOf({ PORT: '8080', METRICS_PORT: '8080' })).toEqual([
      'METRICS_PORT must differ from PORT (both 8080): /metrics is served by a server of its own',
    ]);
    expect(problemsOf({ METRICS_PORT: '3000' })).toEqual([
      'METRICS_PORT must differ from PORT (both 3000): /metrics is served by a server of its own',
    ]);
    expect(problemsOf({ METRICS_HOST: '127.0.0.1' })).toEqual([
      'METRICS_HOST is set without METRICS_PORT: set METRICS_PORT too, or unset METRICS_HOST',
    ]);
  });
});

describe('parseConfig providers', () => {
  it('turns PROVIDER_MY_CORP_* into provider my-corp', () => {
    const [provider, ...others] = parseConfig({
      PROVIDER_MY_CORP_CLIENT_ID: 'client',
      PROVIDER_MY_CORP_TYPE: 'oidc',
      PROVIDER_MY_CORP_ISSUER: 'https://sso.corp.example',
      PROVIDER_MY_CORP_SCOPES: 'openid, email groups',
      PROVIDER_MY_CORP_NAME: 'Corp SSO',
    }).providers;
    expect(others).toEqual([]);
    expect(provider).toMatchObject({
      id: 'my-corp',
      type: 'oidc',
      clientId: 'client',
      issuer: 'https://sso.corp.example',
      scopes: ['openid', 'email', 'groups'],
      displayName: 'Corp SSO',
    });
    expect(provider!.clientSecret).toBeUndefined();
  });

  it('takes PROVIDER_<ID>_SCOPES as given, even when it names none', () => {
    const scopesOf = (scopes: string) =>
      parseConfig({
        PROVIDER_SSO_CLIENT_ID: 'c',
        PROVIDER_SSO_TYPE: 'oauth2',
        PROVIDER_SSO_AUTHORIZATION_URL: 'https://a.example/auth',
        PROVIDER_SSO_TOKEN_URL: 'https://a.example/token',
        PROVIDER_SSO_USERINFO_URL: 'https://a.example/me',
        PROVIDER_SSO_SCOPES: scopes,
      }).providers[0]?.scopes;
    expect(scopesOf('read_user, api')).toEqual(['read_user', 'api']);
    expect(scopesOf(',')).toEqual([]);
  });

  it('takes the type, issuer and endpoints from the preset named like the provider', () => {
    const config = parseConfig({
      PROVIDER_GITHUB_CLIENT_ID: 'gh',
      PROVIDER_GITHUB_CLIENT_SECRET: 'gh-secret',
      PROVIDER_GOOGLE_CLIENT_ID: 'g',
      PROVIDER_GOOGLE_CLIENT_SECRET: 'g-secret',
    });
    expect(config.providers.map((p) => [p.id, p.type])).toEqual([
      ['github', 'github'],
      ['google', 'google'],
    ]);
    expect(config.providers[0]).toMatchObject({
      authorizationUrl: 'https://github.com/login/oauth/authorize',
      tokenUrl: 'https://github.com/login/oauth/access_token',
      userinfoUrl: 'https://api.github.com/user',
    });
    expect(config.providers[1]).toMatchObject({ issuer: 'https://accounts.google.com' });
  });

  it('refuses an unknown type, and an id that is no preset without a TYPE', () => {
    // Every preset, in the registry's order: the generic ones first.
    const known = Object.keys(presets).join(', ');
    expect(known).toMatch(/^oidc, oauth2, google, github, microsoft, /);
    expect(problemsOf({ PROVIDER_CORP_CLIENT_ID: 'c', PROVIDER_CORP_TYPE: 'saml' })).toEqual([
      `PROVIDER_CORP_TYPE=saml is not a known provider type (known: ${known})`,
    ]);
    expect(problemsOf({ PROVIDER_CORP_CLIENT_ID: 'c' })).toEqual([
      `PROVIDER_CORP_TYPE is missing: "corp" is not a preset name (known: ${known})`,
    ]);
  });

  it('requires an issuer for oidc and the three endpoints for oauth2', () => {
    expect(problemsOf({ PROVIDER_CORP_CLIENT_ID: 'c', PROVIDER_CORP_TYPE: 'oidc' })).toEqual([
      'PROVIDER_CORP_ISSUER is required for OpenID Connect (OIDC discovery)',
    ]);
    expect(problemsOf({ PROVIDER_CORP_CLIENT_ID: 'c', PROVIDER_CORP_TYPE: 'oauth2' })).toEqual([
      'PROVIDER_CORP_AUTHORIZATION_URL is required for OAuth 2.0',
      'PROVIDER_CORP_TOKEN_URL is required for OAuth 2.0',
      'PROVIDER_CORP_USERINFO_URL is required for OAuth 2.0',
    ]);
  });

  it('accepts a plain-http issuer on loopback hosts only', () => {
    const oidcAt = (issuer: string) => ({ PROVIDER_CORP_CLIENT_ID: 'c', PROVIDER_CORP_TYPE: 'oidc', PROVIDER_CORP_ISSUER: issuer });
    for (const issuer of ['http://localhost:8080', 'http://127.0.0.1:9000/realms/x', 'http://[::1]:4000']) {
      expect(parseConfig(oidcAt(issuer)).providers[0]).toMatchObject({ issuer });
    }
    expect(problemsOf(oidcAt('http://idp.example.com'))).toEqual([
      'PROVIDER_CORP_ISSUER uses plain http on a non-loopback host (idp.example.com); use https',
    ]);
    // Names that only look like loopback.
    expect(problemsOf(oidcAt('http://localhost.evil.example'))).toHaveLength(1);
    expect(problemsOf(oidcAt('http://127.0.0.1.nip.io'))).toHaveLength(1);
    expect(problemsOf(oidcAt('ftp://idp.example.com'))).toEqual(['PROVIDER_CORP_ISSUER must be an https URL']);
  });

  it('reports a misspelled provider variable', () => {
    const problems = problemsOf({
      PROVIDER_X_CLIENT_ID: 'c',
      PROVIDER_X_TYPE: 'oidc',
      PROVIDER_X_ISSUER: 'https://idp.example',
      PROVIDER_X_CLIENT_SECRT: 's',
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^PROVIDER_X_CLIENT_SECRT is not a provider setting/);
  });

  it('refuses github and google without a client secret', () => {
    expect(problemsOf({ PROVIDER_GITHUB_CLIENT_ID: 'gh', PROVIDER_GOOGLE_CLIENT_ID: 'g' })).toEqual([
      'PROVIDER_GITHUB_CLIENT_SECRET is required for GitHub',
      'PROVIDER_GOOGLE_CLIENT_SECRET is required for Google',
    ]);
  });

  it('refuses companions without a CLIENT_ID', () => {
    expect(problemsOf({ PROVIDER_CORP_ISSUER: 'https://idp.example' })).toEqual([
      'PROVIDER_CORP_CLIENT_ID is missing, yet other PROVIDER_CORP_* variables are set',
    ]);
  });
});

describe('readEnv', () => {
  /** The directories dirWith() made in this test, removed after it. */
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const dirWith = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'portero-env-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  };

  it('reads .env, and a real variable wins over the file', () => {
    const dir = dirWith({ '.env': 'PORT=4000\nJWT_ALG=EdDSA\n# a comment\nLOG_LEVEL="debug"\n' });
    expect(readEnv({ JWT_ALG: 'RS256' }, dir)).toEqual({ PORT: '4000', JWT_ALG: 'RS256', LOG_LEVEL: 'debug' });
  });

  it('reads the file ENV_FILE names, relative to the working directory', () => {
    const dir = dirWith({ '.env': 'PORT=1\n', 'staging.env': 'PORT=2\n' });
    expect(readEnv({ ENV_FILE: 'staging.env' }, dir).PORT).toBe('2');
  });

  it('is fine without a .env file, and treats an empty ENV_FILE as unset', () => {
    const empty = dirWith({});
    expect(readEnv({ PORT: '5' }, empty)).toEqual({ PORT: '5' });
    expect(readEnv({ ENV_FILE: '' }, dirWith({ '.env': 'PORT=6\n' })).PORT).toBe('6');
  });

  it('throws when ENV_FILE names a file that does not exist', () => {
    expect(() => readEnv({ ENV_FILE: 'missing.env' }, dirWith({}))).toThrow(/ENV_FILE names .*missing\.env, which does not exist/);
  });

  it("says so when ENV_FILE is a directory (docker mounts one where compose.yaml's .env is missing)", () => {
    const dir = dirWith({});
    mkdirSync(join(dir, 'portero.env'));
    expect(() => readEnv({ ENV_FILE: 'portero.env' }, dir)).toThrow(/is a directory, not a file/);
  });
});

describe('abuse limits and trusted proxies', () => {
  it('limits logins, callbacks, refreshes and the token endpoint by default, reads <count>/<seconds>s, and turns a limit off with "off"', () => {
    expect(parseConfig({}).rateLimits).toEqual({
      login: { points: 120, duration: 60 },
      callback: { points: 120, duration: 60 },
      refresh: { points: 120, duration: 60 },
      // Per client_id: one app's servers exchange the codes of all its users.
      token: { points: 600, duration: 60 },
    });
    expect(
      parseConfig({ RATE_LIMIT_LOGIN: '30/10s', RATE_LIMIT_CALLBACK: 'off', RATE_LIMIT_REFRESH: 'off', RATE_LIMIT_TOKEN: 'off' })
        .rateLimits,
    ).toEqual({ login: { points: 30, duration: 10 } });
    expect(parseConfig({ RATE_LIMIT_TOKEN: '50/10s' }).rateLimits.token).toEqual({ points: 50, duration: 10 });
  });

  it('names a limit it cannot read', () => {
    expect(problemsOf({ RATE_LIMIT_LOGIN: '100 per minute', RATE_LIMIT_CALLBACK: '0/60s', RATE_LIMIT_TOKEN: '600/min' })).toEqual([
      'RATE_LIMIT_LOGIN must be <count>/<seconds>s (like 120/60s; count 1 to 1000000, seconds 1 to 86400) or off, got "100 per minute"',
      'RATE_LIMIT_CALLBACK must be <count>/<seconds>s (like 120/60s; count 1 to 1000000, seconds 1 to 86400) or off, got "0/60s"',
      'RATE_LIMIT_TOKEN must be <count>/<seconds>s (like 120/60s; count 1 to 1000000, seconds 1 to 86400) or off, got "600/min"',
    ]);
  });

  it('trusts no proxy by default, and reads TRUSTED_PROXIES as addresses and CIDR ranges', () => {
    expect(parseConfig({}).server.trustedProxies).toEqual([]);
    expect(parseConfig({ TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1,::1 ,fd00::/8' }).server.trustedProxies).toEqual([
      '10.0.0.0/8',
      '127.0.0.1/32',
      '::1/128',
      'fd00::/8',
    ]);
  });

  it("reads a dual-stack socket's IPv4-mapped entries as IPv4, so they match, and refuses a range of every address", () => {
    expect(parseConfig({ TRUSTED_PROXIES: '::ffff:10.0.0.2,::ffff:10.0.0.0/104' }).server.trustedProxies).toEqual([
      '10.0.0.2/32',
      '10.0.0.0/8',
    ]);
    const wide = (entry: string) =>
      `TRUSTED_PROXIES entry "${entry}" trusts a range so wide that any client could name its own address: list your proxies' addresses or ranges`;
    // Every address, also as two halves (red team), is refused; real proxy networks are not.
    expect(problemsOf({ TRUSTED_PROXIES: '0.0.0.0/0,::/0,0.0.0.0/1,128.0.0.0/1,::/1,8000::/1' })).toEqual(
      ['0.0.0.0/0', '::/0', '0.0.0.0/1', '128.0.0.0/1', '::/1', '8000::/1'].map(wide),
    );
    expect(parseConfig({ TRUSTED_PROXIES: '10.0.0.0/8,fc00::/7' }).server.trustedProxies).toEqual(['10.0.0.0/8', 'fc00::/7']);
  });

  it('reads the client from X-Forwarded-For unless TRUSTED_PROXY_HEADER says forwarded', () => {
    expect(parseConfig({}).server.trustedProxyHeader).toBe('x-forwarded-for');
    expect(parseConfig({ TRUSTED_PROXY_HEADER: 'forwarded' }).server.trustedProxyHeader).toBe('forwarded');
    expect(problemsOf({ TRUSTED_PROXY_HEADER: 'x-real-ip' })).toEqual([
      'TRUSTED_PROXY_HEADER must be one of x-forwarded-for, forwarded, got "x-real-ip"',
    ]);
  });

  it('refuses a TRUSTED_PROXIES entry that is not an address or a range, rather than never matching it', () => {
    expect(problemsOf({ TRUSTED_PROXIES: '10.0.0.0/33,nginx,256.1.1.1,2130706433,127.1' })).toEqual([
      'TRUSTED_PROXIES entry "10.0.0.0/33" is not an IP address or CIDR range (like 10.0.0.0/8 or 127.0.0.1)',
      'TRUSTED_PROXIES entry "nginx" is not an IP address or CIDR range (like 10.0.0.0/8 or 127.0.0.1)',
      'TRUSTED_PROXIES entry "256.1.1.1" is not an IP address or CIDR range (like 10.0.0.0/8 or 127.0.0.1)',
      'TRUSTED_PROXIES entry "2130706433" is not an IP address or CIDR range (like 10.0.0.0/8 or 127.0.0.1)',
      'TRUSTED_PROXIES entry "127.1" is not an IP address or CIDR range (like 10.0.0.0/8 or 127.0.0.1)',
    ]);
  });
});

describe('who may sign in', () => {
  const github = { PROVIDER_GITHUB_CLIENT_ID: 'id', PROVIDER_GITHUB_CLIENT_SECRET: 'secret' };

  it('reads the global and per-provider rules, normalised', () => {
    const config = parseConfig({
      ...github,
      ALLOWED_EMAIL_DOMAINS: 'Company.COM, bücher.example',
      PROVIDER_GITHUB_ALLOWED_EMAIL_DOMAINS: 'company.com',
      PROVIDER_GITHUB_ALLOWED_EMAILS: 'Ada@Company.com',
    });
    expect(config.flow.access).toEqual({ emailDomains: ['company.com', 'xn--bcher-kva.example'] });
    expect(config.providers[0]).toMatchObject({
      access: { emailDomains: ['company.com'], emails: ['ada@company.com'] },
      allowAll: false,
    });
  });

  it('names each entry that is no domain or no address', () => {
    expect(
      problemsOf({
        ...github,
        ALLOWED_EMAIL_DOMAINS: '*.company.com',
        PROVIDER_GITHUB_ALLOWED_EMAILS: 'a@evil.com@company.com',
        PROVIDER_GITHUB_ALLOW_ALL: 'yes',
      }),
    ).toEqual([
      'PROVIDER_GITHUB_ALLOWED_EMAILS entry "a@evil.com@company.com" is not an email address',
      'PROVIDER_GITHUB_ALLOW_ALL must be true or false, got "yes"',
      'ALLOWED_EMAIL_DOMAINS entry "*.company.com" is not a domain (like company.com; subdomains are listed each)',
    ]);
  });

  it('refuses a public provider without a rule in production, naming what to set', () => {
    expect(problemsOf({ ...PRODUCTION_ENV, ...github })).toEqual([
      'provider github lets every account of a public provider sign in: set ALLOWED_EMAIL_DOMAINS, PROVIDER_GITHUB_ALLOWED_ORGS, PROVIDER_GITHUB_ALLOWED_EMAIL_DOMAINS, PROVIDER_GITHUB_ALLOWED_EMAILS, or PROVIDER_GITHUB_ALLOW_ALL=true to let everyone in',
    ]);
    const google = { PROVIDER_GOOGLE_CLIENT_ID: 'id', PROVIDER_GOOGLE_CLIENT_SECRET: 'secret' };
    expect(problemsOf({ ...PRODUCTION_ENV, ...google })).toEqual([
      expect.stringContaining('set ALLOWED_EMAIL_DOMAINS, PROVIDER_GOOGLE_HOSTED_DOMAIN, '),
    ]);
  });

  // /auth?allowed_groups=admins reads the token's groups whichever provider gave them: all of a
  // public provider's would let anyone in who made a group of that name (a gitlab.com group, an
  // app role the admin of any Entra tenant assigns himself).
  it('refuses _CLAIMS=groups on a public provider without _ALLOWED_GROUPS: its users name their own groups', () => {
    const gitlab = { PROVIDER_GITLAB_CLIENT_ID: 'id', PROVIDER_GITLAB_CLIENT_SECRET: 'secret', PROVIDER_GITLAB_CLAIMS: 'groups' };
    expect(problemsOf({ ...PRODUCTION_ENV, ...gitlab, PROVIDER_GITLAB_ALLOW_ALL: 'true' })).toEqual([
      expect.stringContaining('PROVIDER_GITLAB_CLAIMS=groups would carry groups the users of a public provider name themselves'),
    ]);
    expect(problemsOf({ ...gitlab, ALLOWED_EMAIL_DOMAINS: 'company.com' })).toHaveLength(1);
    const entra = {
      PROVIDER_MS_TYPE: 'microsoft',
      PROVIDER_MS_CLIENT_ID: 'id',
      PROVIDER_MS_CLIENT_SECRET: 'secret',
      PROVIDER_MS_TENANT: 'organizations',
      PROVIDER_MS_GROUPS_CLAIM: 'roles',
      PROVIDER_MS_CLAIMS: 'groups',
      ALLOWED_EMAIL_DOMAINS: 'company.com',
    };
    expect(problemsOf({ ...PRODUCTION_ENV, ...entra })).toEqual([expect.stringContaining('PROVIDER_MS_ALLOWED_GROUPS')]);
    // The groups it names, or a corporate IdP's own: no one names those but the operator and the IdP's admins.
    expect(parseConfig({ ...PRODUCTION_ENV, ...gitlab, PROVIDER_GITLAB_ALLOWED_GROUPS: 'acme' }).mode).toBe('production');
    expect(parseConfig({ ...gitlab, PROVIDER_GITLAB_URL: 'https://gitlab.company.com' }).providers[0]?.claims).toEqual(['groups']);
  });

  // The generic types at a public provider's address sign in its every account just the same.
  it.each([
    ['oidc at Google', { PROVIDER_X_TYPE: 'oidc', PROVIDER_X_ISSUER: 'https://accounts.google.com' }],
    ['oidc at gitlab.com', { PROVIDER_X_TYPE: 'oidc', PROVIDER_X_ISSUER: 'https://GitLab.com.' }],
    [
      'oauth2 at github.com',
      {
        PROVIDER_X_TYPE: 'oauth2',
        PROVIDER_X_AUTHORIZATION_URL: 'https://github.com/login/oauth/authorize',
        PROVIDER_X_TOKEN_URL: 'https://github.com/login/oauth/access_token',
        PROVIDER_X_USERINFO_URL: 'https://api.github.com/user',
      },
    ],
    [
      'oauth2 at Entra common',
      {
        PROVIDER_X_TYPE: 'oauth2',
        PROVIDER_X_AUTHORIZATION_URL: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize',
        PROVIDER_X_TOKEN_URL: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
        PROVIDER_X_USERINFO_URL: 'https://graph.microsoft.com/oidc/userinfo',
      },
    ],
  ])('refuses %s without a rule in production, as the preset is refused', (_name, env) => {
    expect(problemsOf({ ...PRODUCTION_ENV, PROVIDER_X_CLIENT_ID: 'id', ...env })).toEqual([
      expect.stringContaining('provider x lets every account of a public provider sign in'),
    ]);
    expect(parseConfig({ ...PRODUCTION_ENV, PROVIDER_X_CLIENT_ID: 'id', ...env, PROVIDER_X_ALLOW_ALL: 'true' }).mode).toBe('production');
  });

  it('starts with a global rule, a provider rule, or ALLOW_ALL; a corporate IdP needs none', () => {
    expect(parseConfig({ ...PRODUCTION_ENV, ...github, ALLOWED_EMAIL_DOMAINS: 'company.com' }).mode).toBe('production');
    expect(parseConfig({ ...PRODUCTION_ENV, ...github, PROVIDER_GITHUB_ALLOWED_EMAILS: 'ada@company.com' }).mode).toBe('production');
    expect(parseConfig({ ...PRODUCTION_ENV, ...github, PROVIDER_GITHUB_ALLOW_ALL: 'true' }).providers[0]).toMatchObject({ allowAll: true });
    const corp = { PROVIDER_CORP_CLIENT_ID: 'id', PROVIDER_CORP_TYPE: 'oidc', PROVIDER_CORP_ISSUER: 'https://sso.company.com' };
    expect(parseConfig({ ...PRODUCTION_ENV, ...corp }).mode).toBe('production');
  });
});

describe('METRICS_PORT in production', () => {
  it('is warned about when unset (/metrics then on PORT), and not in development or once set', () => {
    const production = {
      ...PRODUCTION_ENV,
      PROVIDER_CORP_TYPE: 'oidc',
      PROVIDER_CORP_ISSUER: 'https://idp.example.test',
      PROVIDER_CORP_CLIENT_ID: 'portero',
      PROVIDER_CORP_CLIENT_SECRET: 'a-client-secret',
    };
    expect(publicMetricsWarning(parseConfig(production))).toBe(
      'METRICS_PORT unset: /metrics is served on PORT, which a proxy may make public; set METRICS_PORT to serve it apart',
    );
    expect(publicMetricsWarning(parseConfig({ ...production, METRICS_PORT: '9464' }))).toBeUndefined();
    expect(publicMetricsWarning(parseConfig({}))).toBeUndefined();
  });
});
