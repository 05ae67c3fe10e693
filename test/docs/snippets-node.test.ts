import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blocksCoveredBy, type CodeBlock, withOrigin } from '../support/code-blocks.js';
import { track } from '../support/leftovers.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { cleanEnv, type Exited, REPO_ROOT, runToExit } from '../support/process.js';
import { loopbackIsReal, serveGateway, tamper, type ServedGateway } from '../support/served-gateway.js';

// The TypeScript and JavaScript blocks of README.md and examples/node/README.md, as a Node team
// pastes them, but for portero's origin (https://auth.example.com becomes this test's gateway):
// each is written to a directory inside this repository, so that `portero/verify` resolves (to
// dist/, by package.json "exports") as in a service that installed portero, and hono, express and
// jose from node_modules. The TypeScript is type-checked by strict tsc, as a service would, then
// compiled; plain node runs the result, and the JavaScript as it is. A harness of this test imports
// what the block built (its top-level names, exported by one appended line), tries each with a
// token from a real sign-in and without one, and prints what it got.

const SELF = 'test/docs/snippets-node.test.ts';
const blocks = blocksCoveredBy('test/docs/snippets-node.test.ts');
/** The commented `audience` option of a block: the line a user enables when portero sets JWT_AUDIENCE. */
const AUDIENCE_LINE = /^(\s*)\/\/ (audience: 'my-app',)/m;

/** What the harness tries, by what the block built: an app is asked for /api/me, a function is called. */
const HARNESS = `
const { TOKEN, TAMPERED } = process.env;
const bearer = (token) => (token ? { authorization: 'Bearer ' + token } : {});
const outcome = async (run) => {
  try { return { value: await run() }; } catch (err) { return { threw: err?.code ?? String(err) }; }
};
async function ask(server) {
  const url = 'http://127.0.0.1:' + server.address().port + '/api/me';
  const get = async (headers) => { const res = await fetch(url, { headers }); return { status: res.status, body: await res.json() }; };
  const answers = { token: await get(bearer(TOKEN)), none: await get({}) };
  server.close();
  return answers;
}
const tried = {};
for (const [name, value] of Object.entries(snippet)) {
  if (typeof value?.route === 'function' && typeof value.fetch === 'function') {
    const { serve } = await import('@hono/node-server');
    tried[name] = { hono: await ask(await new Promise((ok) => { const s = serve({ fetch: value.fetch, port: 0, hostname: '127.0.0.1' }, () => ok(s)); })) };
  } else if (typeof value === 'function' && typeof value.listen === 'function') {
    tried[name] = { express: await ask(await new Promise((ok) => { const s = value.listen(0, '127.0.0.1', () => ok(s)); })) };
  } else if (typeof value?.verifyRequest === 'function') {
    tried[name] = { verifier: { token: await outcome(async () => (await value.verify(TOKEN)).sub), tampered: await outcome(() => value.verify(TAMPERED)) } };
  } else if (name === 'currentUser') {
    const call = (headers) => outcome(() => value({ headers: new Headers(headers) }));
    tried[name] = { currentUser: { token: await call(bearer(TOKEN)), none: await call({}) } };
  } else if (name === 'verifyToken') {
    tried[name] = { verifyToken: { token: await outcome(async () => (await value(TOKEN)).sub), tampered: await outcome(() => value(TAMPERED)) } };
  }
}
console.log(JSON.stringify(tried));
process.exit(0);
`;

interface Variant {
  readonly name: string;
  readonly block: CodeBlock;
  /** With the `audience` line enabled, against a gateway with JWT_AUDIENCE. */
  readonly audience: boolean;
}

const variants: Variant[] = blocks.flatMap((block, i) => [
  { name: `block-${i}`, block, audience: false },
  ...(AUDIENCE_LINE.test(block.text) ? [{ name: `block-${i}-audience`, block, audience: true }] : []),
]);
const isTs = (block: CodeBlock) => block.lang === 'ts';

/** The block for `origin`, with its top-level names exported for the harness. */
function source({ block, audience }: Variant, origin: string): string {
  const text = withOrigin(audience ? block.text.replace(AUDIENCE_LINE, '$1$2') : block.text, origin);
  const names = [...text.matchAll(/^(?:const|let) (\w+)/gm)].map((match) => match[1]);
  return `${text}${names.length > 0 ? `export { ${names.join(', ')} }; // added by ${SELF}\n` : ''}`;
}

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers(), loopbackIsReal);
let dir: string;
let untrack: () => void;
let plain: ServedGateway;
let withAudience: ServedGateway;
let checked: Exited;
const tsc = (project: string) => runToExit(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', project]);

beforeAll(async () => {
  msw.listen({ onUnhandledRequest: 'error' });
  plain = await serveGateway(idp);
  withAudience = await serveGateway(idp, { env: { JWT_AUDIENCE: 'my-app' } });
  dir = await mkdtemp(join(REPO_ROOT, '.snippets-'));
  untrack = track({ kind: 'dir', path: dir, name: 'the Node snippets' });
  for (const variant of variants) {
    const origin = (variant.audience ? withAudience : plain).origin;
    await writeFile(join(dir, `${variant.name}.${isTs(variant.block) ? 'ts' : 'mjs'}`), source(variant, origin));
    const compiled = isTs(variant.block) ? `./out/${variant.name}.js` : `./${variant.name}.mjs`;
    await writeFile(join(dir, `run-${variant.name}.mjs`), `import * as snippet from '${compiled}';\n${HARNESS}`);
  }
  // A service's own strict settings, and nothing of this repository's.
  const compilerOptions = { strict: true, module: 'nodenext', target: 'es2022', outDir: 'out', types: ['node'], skipLibCheck: false };
  const files = variants.filter((variant) => isTs(variant.block)).map((variant) => `${variant.name}.ts`);
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }));
  // Compiled here, for every test below runs the result; the first one reports what tsc said.
  checked = await tsc(dir);
});
afterAll(async () => {
  await Promise.all([plain?.close(), withAudience?.close()]);
  msw.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  untrack?.();
});

describe('the Node blocks of the documentation', () => {
  it('are the ones expected: the portero/verify and jose blocks of README.md, the examples of examples/node', () => {
    expect(blocks.map((block) => `${block.file} ${block.lang}`)).toEqual([
      'README.md ts',
      'README.md ts',
      'examples/node/README.md js',
      'examples/node/README.md ts',
      'examples/node/README.md js',
      'examples/node/README.md js',
    ]);
    expect(variants.filter((variant) => variant.audience)).toHaveLength(2);
  });

  it('type-check under strict tsc as a service compiles them', () => {
    const key = variants.filter((variant) => isTs(variant.block)).map((variant) => `${variant.name}.ts is ${variant.block.where}`);
    expect(checked.code, `${checked.stdout}${checked.stderr}\n${key.join('\n')}`).toBe(0);
  });

  it.each(variants.map((variant) => [`${variant.block.where}${variant.audience ? ', its audience line enabled' : ''}`, variant]))(
    '%s: runs, and knows the signed-in user by the token, and no one without it',
    async (_, variant) => {
      const gateway = variant.audience ? withAudience : plain;
      const token = await gateway.signIn('u-1');
      const env = cleanEnv({ TOKEN: token, TAMPERED: tamper(token, { sub: 'corp:admin' }) });
      const ran = await runToExit(process.execPath, [join(dir, `run-${variant.name}.mjs`)], { cwd: dir, env });
      expect(ran.code, `${ran.stdout}${ran.stderr}`).toBe(0);
      const tried = JSON.parse(ran.stdout) as Record<string, Record<string, Record<string, unknown>>>;
      expect(Object.keys(tried).length, `${variant.block.where} builds nothing this test knows how to try: ${ran.stdout}`).toBeGreaterThan(
        0,
      );
      for (const [name, { hono, express, verifier, currentUser, verifyToken }] of Object.entries(tried)) {
        for (const app of [hono, express].filter(Boolean)) {
          expect(app, name).toEqual({
            token: { status: 200, body: { user: 'corp:u-1' } },
            none: { status: 401, body: { error: 'missing_token' } },
          });
        }
        if (verifier) expect(verifier, name).toEqual({ token: { value: 'corp:u-1' }, tampered: { threw: 'invalid_token' } });
        if (verifyToken)
          expect(verifyToken, name).toEqual({ token: { value: 'corp:u-1' }, tampered: { threw: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' } });
        if (currentUser) {
          expect(JSON.stringify(currentUser.token), name).toContain('"corp:u-1"');
          expect(JSON.stringify(currentUser.none), name).toContain('"missing_token"');
        }
      }
    },
  );
});
