import { createHash, createHmac, randomBytes } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPorteroError, STORE_UNAVAILABLE } from '../../src/errors.js';
import { FALLBACK_TTL_SECONDS, storeAdapter } from '../../src/flow/op-adapter.js';
import { storeKeys } from '../../src/store/keys.js';
import { generateKeyJwk } from '../../src/tokens/keys.js';
import { REPO_ROOT } from '../support/process.js';
import { testRedis } from '../support/redis-server.js';
import { type KeyValueUnderTest, memoryUnderTest, redisUnderTest } from '../support/store-under-test.js';

const redis = await testRedis();
afterAll(() => redis.stop());

/** Stands in for oidc-provider's `errors.InvalidGrant` (the real one is passed in the library's own test below). */
class Consumed extends Error {}

/** The SHA-256 the keys hold, computed here on its own: records written by one release must be found by the next. */
const sha256 = (id: string) => createHash('sha256').update(id).digest('base64url');
/** An id as oidc-provider makes a token's: 43 characters of nanoid (256 bits). */
const tokenId = () => randomBytes(32).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A payload shaped as oidc-provider saves one of `kind`: its id repeated in `jti`. */
function payloadOf(kind: string, jti: string, fields: AdapterPayload = {}): AdapterPayload {
  return { iat: nowSeconds(), exp: nowSeconds() + 600, jti, kind, accountId: 'corp:alice', clientId: 'app-one', ...fields };
}

/** Whether the adapter's outcome was refused as consumed, with the error class it was given. */
async function refusedAsConsumed(outcome: Promise<unknown>): Promise<boolean> {
  return outcome.then(
    () => false,
    (error: unknown) => error instanceof Consumed,
  );
}

/** What oidc-provider's Adapter promises on any key-value store. */
function adapterContract(name: string, factory: () => KeyValueUnderTest | Promise<KeyValueUnderTest>) {
  describe(`op adapter on ${name}`, () => {
    let under: KeyValueUnderTest;
    let adapters: AdapterFactory;
    let codes: Adapter;
    let accessTokens: Adapter;
    let refreshTokens: Adapter;
    let sessions: Adapter;
    beforeEach(async () => {
      under = await factory();
      adapters = storeAdapter(under.store, Consumed, under.clock);
      codes = adapters('AuthorizationCode');
      accessTokens = adapters('AccessToken');
      refreshTokens = adapters('RefreshToken');
      sessions = adapters('Session');
    });
    afterEach(() => under.close());

    it('gives back the payload it saved, its id in jti, and nothing for an id it never saw', async () => {
      const id = tokenId();
      const payload = payloadOf('AccessToken', id, { grantId: 'g1', scope: 'openid email', extra: { tenant: 'eu' } });
      await accessTokens.upsert(id, payload, 600);
      expect(await accessTokens.find(id)).toEqual(payload);
      expect(await accessTokens.find(tokenId())).toBeUndefined();
      // Each model has its own records: the same id under another model is another record.
      expect(await refreshTokens.find(id)).toBeUndefined();
    });

    it('replaces a record on a second upsert', async () => {
      const id = tokenId();
      await sessions.upsert(id, payloadOf('Session', id, { uid: 'u1', loginTs: 1 }), 600);
      await sessions.upsert(id, payloadOf('Session', id, { uid: 'u1', loginTs: 2 }), 600);
      expect(await sessions.find(id)).toMatchObject({ loginTs: 2 });
    });

    it('consumes a code once: find then reports it consumed, and a second consume is refused', async () => {
      const id = tokenId();
      const payload = payloadOf('AuthorizationCode', id, { grantId: 'g1' });
      await codes.upsert(id, payload, 60);
      expect((await codes.find(id))?.consumed).toBeUndefined();
      await codes.consume(id);
      const found = await codes.find(id);
      expect(found).toEqual({ ...payload, consumed: expect.any(Number) });
      expect(Math.abs(found?.consumed - Math.floor(under.clock.now() / 1000))).toBeLessThanOrEqual(1);
      expect(await refusedAsConsumed(codes.consume(id))).toBe(true);
    });

    it('lets exactly one of 10 concurrent exchanges of one code consume it; the others are refused', async () => {
      const id = tokenId();
      await codes.upsert(id, payloadOf('AuthorizationCode', id), 60);
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => codes.consume(id)));
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
      const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
      expect(refused).toHaveLength(9);
      for (const outcome of refused) expect(outcome.reason).toBeInstanceOf(Consumed);
    });

    it('refuses to consume a code that is not there (expired, revoked, never issued)', async () => {
      expect(await refusedAsConsumed(codes.consume(tokenId()))).toBe(true);
    });

    it('revokes every code and token of a grant, whichever model is asked, and none of another grant', async () => {
      const [code, access, refresh, otherAccess, grant] = [tokenId(), tokenId(), tokenId(), tokenId(), tokenId()];
      await codes.upsert(code, payloadOf('AuthorizationCode', code, { grantId: grant }), 60);
      await accessTokens.upsert(access, payloadOf('AccessToken', access, { grantId: grant }), 600);
      await refreshTokens.upsert(refresh, payloadOf('RefreshToken', refresh, { grantId: grant }), 3600);
      await accessTokens.upsert(otherAccess, payloadOf('AccessToken', otherAccess, { grantId: 'another grant' }), 600);
      const grants = adapters('Grant');
      await grants.upsert(grant, payloadOf('Grant', grant), 3600);

      await refreshTokens.revokeByGrantId(grant);
      expect(await codes.find(code)).toBeUndefined();
      expect(await accessTokens.find(access)).toBeUndefined();
      expect(await refreshTokens.find(refresh)).toBeUndefined();
      expect(await accessTokens.find(otherAccess)).toBeDefined();
      // The Grant itself is oidc-provider's to destroy (its revokeGrantPolicy says when).
      expect(await grants.find(grant)).toBeDefined();
      // Asked again (oidc-provider asks every model's adapter), there is nothing left to do.
      await accessTokens.revokeByGrantId(grant);
      expect(await accessTokens.find(otherAccess)).toBeDefined();
    });

    it('keeps revocable a token issued under the grant while it is being revoked', async () => {
      const grant = tokenId();
      const first = tokenId();
      await accessTokens.upsert(first, payloadOf('AccessToken', first, { grantId: grant }), 600);
      // Issued while another instance revokes: their index entries must not be dropped with the ones revoked.
      const during = Array.from({ length: 20 }, tokenId);
      await Promise.all([
        accessTokens.revokeByGrantId(grant),
        ...during.map((id) => accessTokens.upsert(id, payloadOf('AccessToken', id, { grantId: grant }), 600)),
      ]);
      await accessTokens.revokeByGrantId(grant);
      for (const id of [first, ...during]) expect(await accessTokens.find(id)).toBeUndefined();
    });

    it('finds a Session by its uid, under its latest id, with the id to save or destroy it by', async () => {
      const [uid, oldId, newId] = [tokenId(), tokenId(), tokenId()];
      await sessions.upsert(oldId, payloadOf('Session', oldId, { uid }), 3600);
      expect(await sessions.findByUid(uid)).toMatchObject({ jti: oldId, uid });
      // oidc-provider's resetIdentifier: the old id destroyed, the same session saved under a new one.
      await sessions.destroy(oldId);
      await sessions.upsert(newId, payloadOf('Session', newId, { uid }), 3600);
      const found = await sessions.findByUid(uid);
      expect(found).toMatchObject({ jti: newId, uid });
      await sessions.destroy(String(found?.jti));
      expect(await sessions.findByUid(uid)).toBeUndefined();
      expect(await sessions.findByUid(tokenId())).toBeUndefined();
    });

    it('finds a DeviceCode by its user code', async () => {
      const deviceCodes = adapters('DeviceCode');
      const id = tokenId();
      await deviceCodes.upsert(id, payloadOf('DeviceCode', id, { userCode: 'BCDF-GHJK', grantId: 'g1' }), 600);
      expect(await deviceCodes.findByUserCode('BCDF-GHJK')).toMatchObject({ jti: id, userCode: 'BCDF-GHJK' });
      expect(await deviceCodes.findByUserCode('BCDF-GHJL')).toBeUndefined();
    });

    it('destroys one record, and only that one', async () => {
      const [gone, kept] = [tokenId(), tokenId()];
      await accessTokens.upsert(gone, payloadOf('AccessToken', gone), 600);
      await accessTokens.upsert(kept, payloadOf('AccessToken', kept), 600);
      await accessTokens.destroy(gone);
      expect(await accessTokens.find(gone)).toBeUndefined();
      expect(await accessTokens.find(kept)).toBeDefined();
      await accessTokens.destroy(gone);
    });

    it('reads a record that is not a JSON object (an operator’s edit, a truncated write) as not found, and refuses to consume it', async () => {
      for (const corrupt of ['{"kind":"AuthorizationCode","exp":', 'not json', '[1,2]', 'null', '42']) {
        const id = tokenId();
        await under.store.set(storeKeys.opRecord('AuthorizationCode', sha256(id)), corrupt, 60);
        expect(await codes.find(id), corrupt).toBeUndefined();
        expect(await refusedAsConsumed(codes.consume(id)), corrupt).toBe(true);
      }
      const id = tokenId();
      await under.store.set(storeKeys.opRecord('Session', sha256(id)), '{"uid":', 60);
      await under.store.set(storeKeys.opSessionByUid(sha256('u-corrupt')), id, 60);
      expect(await sessions.findByUid('u-corrupt')).toBeUndefined();
    });

    it('forgets a record once its TTL has run out', async () => {
      const id = tokenId();
      await accessTokens.upsert(id, payloadOf('AccessToken', id), 60);
      await under.expire(storeKeys.opRecord('AccessToken', sha256(id)));
      expect(await accessTokens.find(id)).toBeUndefined();
    });
  });
}

adapterContract('memory', memoryUnderTest);
adapterContract('redis', () => redisUnderTest(redis.url));

describe('op adapter TTLs on memory (a manual clock)', () => {
  let under: KeyValueUnderTest;
  beforeEach(() => {
    under = memoryUnderTest();
  });
  afterEach(() => under.close());

  it('keeps a record for oidc-provider’s expiresIn, the consumed marker as long, then neither', async () => {
    const codes = storeAdapter(under.store, Consumed, under.clock)('AuthorizationCode');
    const id = tokenId();
    const exp = Math.floor(under.clock.now() / 1000) + 60;
    await codes.upsert(id, payloadOf('AuthorizationCode', id, { exp }), 60);
    await codes.consume(id);
    under.clock.advance(59);
    expect((await codes.find(id))?.consumed).toEqual(expect.any(Number));
    expect(await under.store.get(storeKeys.opConsumed('AuthorizationCode', sha256(id)))).toBeDefined();
    under.clock.advance(1);
    expect(await codes.find(id)).toBeUndefined();
    expect(await under.store.get(storeKeys.opConsumed('AuthorizationCode', sha256(id)))).toBeUndefined();
  });

  it('keeps a record without expiresIn 14 days, and one already expired (expiresIn 0 or less) one second', async () => {
    const clients = storeAdapter(under.store, Consumed, under.clock)('Client');
    const sessions = storeAdapter(under.store, Consumed, under.clock)('Session');
    await clients.upsert('registered', { client_id: 'registered', redirect_uris: ['https://app.test/cb'] }, undefined as never);
    await sessions.upsert('expired-now', payloadOf('Session', 'expired-now', { uid: 'u0' }), 0);
    await sessions.upsert('expired-before', payloadOf('Session', 'expired-before', { uid: 'u1' }), -5);
    // A Client's payload is its metadata: no jti is added to it.
    expect(await clients.find('registered')).toEqual({ client_id: 'registered', redirect_uris: ['https://app.test/cb'] });
    under.clock.advance(1);
    expect(await sessions.find('expired-now')).toBeUndefined();
    expect(await sessions.find('expired-before')).toBeUndefined();
    under.clock.advance(FALLBACK_TTL_SECONDS - 2);
    expect(await clients.find('registered')).toBeDefined();
    under.clock.advance(1);
    expect(await clients.find('registered')).toBeUndefined();
  });
});

/** Every key under `prefix`, found with SCAN as an operator would, and every value each holds. */
async function dump(raw: Redis, prefix: string): Promise<Map<string, string[]>> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 100);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  const entries = new Map<string, string[]>();
  for (const key of keys) {
    const type = await raw.type(key);
    entries.set(key, type === 'zset' ? await raw.zrange(key, '0', '-1') : [(await raw.get(key)) ?? '']);
  }
  return entries;
}

describe('op adapter on redis: what an operator sees', () => {
  let under: Awaited<ReturnType<typeof redisUnderTest>>;
  let adapters: AdapterFactory;
  beforeEach(async () => {
    under = await redisUnderTest(redis.url);
    adapters = storeAdapter(under.store, Consumed, under.clock);
  });
  afterEach(() => under.close());
  const ttlOf = (key: string) => under.redis.raw.ttl(under.redis.prefix + key);

  it('gives each record oidc-provider’s TTL, the fallback when it gives none, and the grant’s index its longest member’s', async () => {
    const grant = tokenId();
    const [code, refresh, session] = [tokenId(), tokenId(), tokenId()];
    await adapters('AuthorizationCode').upsert(code, payloadOf('AuthorizationCode', code, { grantId: grant, exp: nowSeconds() + 60 }), 60);
    await adapters('RefreshToken').upsert(
      refresh,
      payloadOf('RefreshToken', refresh, { grantId: grant, exp: nowSeconds() + 86_400 }),
      86_400,
    );
    await adapters('Session').upsert(session, payloadOf('Session', session, { uid: 'u1' }), 3600);
    await adapters('RegistrationAccessToken').upsert('rat', payloadOf('RegistrationAccessToken', 'rat'), undefined as never);
    const within = (ttl: number, expected: number) => expect(ttl).toSatisfy((t: number) => t > expected - 5 && t <= expected);
    within(await ttlOf(storeKeys.opRecord('AuthorizationCode', sha256(code))), 60);
    within(await ttlOf(storeKeys.opRecord('RefreshToken', sha256(refresh))), 86_400);
    within(await ttlOf(storeKeys.opGrant(sha256(grant))), 86_400);
    within(await ttlOf(storeKeys.opRecord('Session', sha256(session))), 3600);
    within(await ttlOf(storeKeys.opSessionByUid(sha256('u1'))), 3600);
    within(await ttlOf(storeKeys.opRecord('RegistrationAccessToken', sha256('rat'))), FALLBACK_TTL_SECONDS);
    await adapters('AuthorizationCode').consume(code);
    within(await ttlOf(storeKeys.opConsumed('AuthorizationCode', sha256(code))), 60);
  });

  it('holds no code or token in any key or value, and no id of any record in a key', async () => {
    const [grant, code, access, refresh, session, uid, interaction] = [
      tokenId(),
      tokenId(),
      tokenId(),
      tokenId(),
      tokenId(),
      tokenId(),
      tokenId(),
    ];
    await adapters('Grant').upsert(grant, payloadOf('Grant', grant, { openid: { scope: 'openid' } }), 3600);
    await adapters('AuthorizationCode').upsert(code, payloadOf('AuthorizationCode', code, { grantId: grant, sessionUid: uid }), 60);
    await adapters('AccessToken').upsert(access, payloadOf('AccessToken', access, { grantId: grant, sessionUid: uid }), 600);
    await adapters('RefreshToken').upsert(refresh, payloadOf('RefreshToken', refresh, { grantId: grant, sessionUid: uid }), 3600);
    await adapters('Session').upsert(
      session,
      payloadOf('Session', session, { uid, authorizations: { 'app-one': { grantId: grant } } }),
      3600,
    );
    await adapters('Interaction').upsert(interaction, payloadOf('Interaction', interaction, { params: { state: 's' } }), 600);
    await adapters('AuthorizationCode').consume(code);

    const entries = await dump(under.redis.raw, under.redis.prefix);
    expect([...entries.keys()].sort()).toEqual(
      [
        storeKeys.opRecord('Grant', sha256(grant)),
        storeKeys.opRecord('AuthorizationCode', sha256(code)),
        storeKeys.opConsumed('AuthorizationCode', sha256(code)),
        storeKeys.opRecord('AccessToken', sha256(access)),
        storeKeys.opRecord('RefreshToken', sha256(refresh)),
        storeKeys.opGrant(sha256(grant)),
        storeKeys.opRecord('Session', sha256(session)),
        storeKeys.opSessionByUid(sha256(uid)),
        storeKeys.opRecord('Interaction', sha256(interaction)),
      ]
        .map((key) => under.redis.prefix + key)
        .sort(),
    );
    for (const [key, values] of entries) {
      for (const id of [grant, code, access, refresh, session, uid, interaction]) expect(key).not.toContain(id);
      // A Session's id is a cookie value, usable only with oidc-provider's signature: its uid's index holds it.
      for (const id of [code, access, refresh]) for (const value of values) expect(value, key).not.toContain(id);
    }
    expect(await adapters('AccessToken').find(access)).toMatchObject({ jti: access, grantId: grant });
  });

  it('rejects with store_unavailable when Redis cannot answer, rather than reading a record as not found', async () => {
    const sessions = adapters('Session');
    const id = tokenId();
    await sessions.upsert(id, payloadOf('Session', id, { uid: 'u1' }), 600);
    await under.close();
    for (const call of [() => sessions.find(id), () => sessions.findByUid('u1'), () => sessions.consume(id)]) {
      const error = await call().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isPorteroError(error, STORE_UNAVAILABLE), String(error)).toBe(true);
    }
  });
});

/** What @types/oidc-provider leaves out of 8.8.1 (lib/models/interaction.js, replay_detection.js): an Interaction's constructor, and `unique` being static. */
type InteractionConstructor = new (uid: string, payload: AdapterPayload) => { save(ttl: number): Promise<string> };
type ReplayDetectionModel = { unique(iss: string, jti: string, exp: number): Promise<boolean> };

describe('op adapter under the real oidc-provider, on redis', () => {
  const ACCOUNT = 'corp:alice';
  const REDIRECT_URI = 'https://app.test/cb';
  const COOKIE_KEY = randomBytes(32).toString('base64url');
  let under: Awaited<ReturnType<typeof redisUnderTest>>;
  let provider: InstanceType<typeof import('oidc-provider')['default']>;
  let InvalidGrant: typeof import('oidc-provider')['errors']['InvalidGrant'];

  beforeEach(async () => {
    under = await redisUnderTest(redis.url);
    const { default: OidcProvider, errors } = await import('oidc-provider');
    InvalidGrant = errors.InvalidGrant;
    provider = new OidcProvider('https://gateway.test', {
      adapter: storeAdapter(under.store, errors.InvalidGrant),
      clients: [{ client_id: 'app-one', client_secret: randomBytes(24).toString('base64url'), redirect_uris: [REDIRECT_URI] }],
      cookies: { keys: [COOKIE_KEY] },
      jwks: { keys: [(await generateKeyJwk('RS256')) as never] },
      findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
      features: { devInteractions: { enabled: false } },
      ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600, RefreshToken: 3600 },
    });
  });
  afterEach(() => under.close());

  it('saves and finds its grant, code and access token; one of two exchanges at once consumes the code; revocation removes the tokens', async () => {
    const client = await provider.Client.find('app-one');
    if (!client) throw new Error('the static client is not found');
    const grant = new provider.Grant({ accountId: ACCOUNT, clientId: 'app-one' });
    grant.addOIDCScope('openid email');
    const grantId = await grant.save();
    const codeValue = await new provider.AuthorizationCode({
      accountId: ACCOUNT,
      client,
      grantId,
      redirectUri: REDIRECT_URI,
      scope: 'openid email',
      codeChallenge: sha256(tokenId()),
      codeChallengeMethod: 'S256',
      gty: 'authorization_code',
    }).save();
    const code = await provider.AuthorizationCode.find(codeValue);
    expect(code).toMatchObject({ jti: codeValue, accountId: ACCOUNT, grantId, redirectUri: REDIRECT_URI, clientId: 'app-one' });
    expect(code?.isValid).toBe(true);

    // Two token requests with the same code, each past its `consumed` check: one consumes it.
    const [first, second] = await Promise.all([provider.AuthorizationCode.find(codeValue), provider.AuthorizationCode.find(codeValue)]);
    const outcomes = await Promise.allSettled([first?.consume(), second?.consume()]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = outcomes.find((outcome) => outcome.status === 'rejected');
    expect(refused?.reason).toBeInstanceOf(InvalidGrant);
    expect(refused?.reason).toMatchObject({ error: 'invalid_grant', status: 400 });
    // A later replay finds it consumed: oidc-provider's own path (it revokes the grant) runs.
    const replayed = await provider.AuthorizationCode.find(codeValue);
    expect((replayed as { consumed?: unknown } | undefined)?.consumed).toBeTruthy();
    expect(replayed?.isValid).toBe(false);

    const tokenValue = await new provider.AccessToken({
      accountId: ACCOUNT,
      client,
      grantId,
      scope: 'openid email',
      gty: 'authorization_code',
    }).save();
    expect(await provider.AccessToken.find(tokenValue)).toMatchObject({
      jti: tokenValue,
      accountId: ACCOUNT,
      grantId,
      scope: 'openid email',
    });
    const ttl = await under.redis.raw.ttl(under.redis.prefix + storeKeys.opRecord('AccessToken', sha256(tokenValue)));
    expect(ttl).toBeGreaterThan(595);
    expect(ttl).toBeLessThanOrEqual(600);
    for (const [key, values] of await dump(under.redis.raw, under.redis.prefix)) {
      for (const value of [key, ...values]) {
        expect(value).not.toContain(codeValue);
        expect(value).not.toContain(tokenValue);
      }
    }

    await provider.AccessToken.revokeByGrantId(grantId);
    expect(await provider.AccessToken.find(tokenValue)).toBeUndefined();
    expect(await provider.AuthorizationCode.find(codeValue)).toBeUndefined();
    expect(await provider.Grant.find(grantId)).toMatchObject({ accountId: ACCOUNT, clientId: 'app-one' });
  });

  it('finds a Session by its cookie value and by its uid, and destroys it found by uid', async () => {
    const session = new provider.Session();
    session.loginAccount({ accountId: ACCOUNT });
    session.grantIdFor('app-one', 'grant-1');
    await session.save(3600);
    expect(await provider.Session.find(session.jti)).toMatchObject({ accountId: ACCOUNT, uid: session.uid });
    const byUid = await provider.Session.findByUid(session.uid);
    expect(byUid?.grantIdFor('app-one')).toBe('grant-1');
    await byUid?.destroy();
    expect(await provider.Session.find(session.jti)).toBeUndefined();
    expect(await provider.Session.findByUid(session.uid)).toBeUndefined();
  });

  // opSessionByUid holds a Session's id, as oidc-provider needs to find it by uid: that id is a
  // cookie value, and with cookies.keys set (the provider must) it is no use without its signature.
  it('does not take a Session id read from the store as a cookie without its signature', async () => {
    const session = new provider.Session();
    session.loginAccount({ accountId: ACCOUNT });
    await session.save(3600);
    const stored = await under.redis.raw.get(under.redis.prefix + storeKeys.opSessionByUid(sha256(session.uid)));
    expect(stored).toBe(session.jti);
    const sessionFor = async (cookie: string) => {
      const request = Object.assign(new IncomingMessage(new Socket()), { url: '/', method: 'GET', headers: { cookie } });
      return provider.Session.get({ req: request, res: new ServerResponse(request) } as never);
    };
    expect((await sessionFor(`_session=${stored}`)).accountId).toBeUndefined();
    // keygrip's signature, as the cookies package makes it: the same id, signed, is the session.
    const signature = createHmac('sha1', COOKIE_KEY).update(`_session=${stored}`).digest('base64url');
    expect((await sessionFor(`_session=${stored}; _session.sig=${signature}`)).accountId).toBe(ACCOUNT);
  });

  it('keeps an Interaction under its uid, and tells a replayed client assertion from a new one', async () => {
    const uid = tokenId();
    await new (provider.Interaction as unknown as InteractionConstructor)(uid, {
      params: { client_id: 'app-one' },
      prompt: { name: 'login', reasons: [], details: {} },
    }).save(600);
    expect(await provider.Interaction.find(uid)).toMatchObject({ uid, params: { client_id: 'app-one' } });
    const exp = nowSeconds() + 60;
    expect(await (provider.ReplayDetection as unknown as ReplayDetectionModel).unique('app-one', 'assertion-1', exp)).toBe(true);
    expect(await (provider.ReplayDetection as unknown as ReplayDetectionModel).unique('app-one', 'assertion-1', exp)).toBe(false);
    expect(await (provider.ReplayDetection as unknown as ReplayDetectionModel).unique('app-one', 'assertion-2', exp)).toBe(true);
  });
});

describe('op adapter module', () => {
  // verbatimModuleSyntax (tsconfig.json) erases `import type ... from` only: `import { type X }` would
  // stay as `import {} from 'oidc-provider'`, and load it.
  it('imports only the types of oidc-provider, so that loading it never loads the library', async () => {
    const source = await readFile(`${REPO_ROOT}src/flow/op-adapter.ts`, 'utf8');
    const statements = source.match(/^import[^;]*?from\s*'oidc-provider';/gms) ?? [];
    expect(statements).toHaveLength(1);
    for (const statement of statements) expect(statement).toMatch(/^import type \{/);
    expect(source).not.toMatch(/(?:import|require)\(\s*'oidc-provider'/);
  });
});
