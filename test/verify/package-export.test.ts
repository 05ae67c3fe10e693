import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { REPO_ROOT, runToExit, type Exited } from '../support/process.js';
import { deadUrl, loopbackIsReal, serveGateway, tamper, type ServedGateway } from '../support/served-gateway.js';

// What a downstream Node team gets: `npm run build` (test/global-setup.ts runs it once, before any
// test file) emits dist/verify, and plain `node` (no tsx) runs examples/node/verify.mjs, which
// imports `portero/verify` through package.json "exports". Inside this repository the name
// resolves by package self-reference, as it does in a service that installed portero; the keys
// come over real HTTP from a gateway served by this process.

const EXAMPLE = 'examples/node/verify.mjs';
const DIST = `${REPO_ROOT}dist/verify/`;

const node = (...args: string[]) => runToExit(process.execPath, args);

/** The one line the example printed when it refused a token. */
function refusal(result: Exited): string {
  expect(result.code, `the example accepted the token:\n${result.stdout}`).toBe(1);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  return lines[0]!;
}

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers(), loopbackIsReal);
let gateway: ServedGateway;

beforeAll(async () => {
  msw.listen({ onUnhandledRequest: 'error' });
  gateway = await serveGateway(idp);
});
afterAll(async () => {
  await gateway?.close();
  msw.close();
});

describe('npm run build', () => {
  it('emits dist/verify (JS and types) that needs nothing at run time but jose and dist/shared', async () => {
    const files = (await readdir(DIST)).sort();
    expect(files).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'verifier.js', 'hono.js', 'express.js']));
    // Every module the export reaches, followed import by import from its index: only verify/ and
    // shared/ of dist, and of packages only jose; never the gateway.
    const reached = new Set<string>();
    const pending = [`${DIST}index.js`];
    while (pending.length > 0) {
      const file = pending.pop()!;
      if (reached.has(file)) continue;
      reached.add(file);
      const source = await readFile(file, 'utf8');
      const imported = [...source.matchAll(/^(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)].map((match) => match[1]!);
      for (const specifier of imported) {
        if (specifier.startsWith('.')) pending.push(join(file, '..', specifier));
        else expect(specifier, `${file} imports ${specifier}`).toBe('jose');
      }
    }
    for (const file of reached)
      expect(file, 'a module the export reaches').toMatch(new RegExp(`^${REPO_ROOT}dist/(verify|shared)/[\\w-]+\\.js$`));
    expect(
      [...reached].some((file) => file.includes('/dist/shared/')),
      'the shared claims and rules',
    ).toBe(true);
  });

  it('is what `npm pack` ships (dist/ is git-ignored, "files" brings it back)', async () => {
    const packed = await runToExit('npm', ['pack', '--dry-run', '--json']);
    expect(packed.code, packed.stderr).toBe(0);
    const [{ files }] = JSON.parse(packed.stdout) as [{ files: { path: string }[] }];
    expect(files.map((file) => file.path)).toEqual(
      expect.arrayContaining(['dist/verify/index.js', 'dist/verify/index.d.ts', 'package.json']),
    );
  });

  it('resolves `portero/verify`, with its types, in a service that installed portero', async () => {
    // A service of its own, outside this repository, with portero in its node_modules.
    const service = await mkdtemp(join(tmpdir(), 'portero-consumer-'));
    try {
      await mkdir(join(service, 'node_modules'));
      await symlink(REPO_ROOT, join(service, 'node_modules', 'portero'), 'dir');
      await writeFile(join(service, 'package.json'), JSON.stringify({ name: 'my-service', type: 'module', private: true }));
      await writeFile(
        join(service, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2022',
            noEmit: true,
            types: ['node'],
            typeRoots: [join(REPO_ROOT, 'node_modules/@types')],
          },
          files: ['service.ts'],
        }),
      );
      await writeFile(
        join(service, 'service.ts'),
        [
          "import { createVerifier, porteroAuth, expressAuth, PorteroTokenError, type PorteroClaims, type PorteroVariables } from 'portero/verify';",
          "const verifier = createVerifier({ issuer: 'https://auth.example.com', algorithms: ['ES256'] });",
          'export async function who(headers: Headers): Promise<string> {',
          '  try {',
          '    const claims: PorteroClaims = await verifier.verify(verifier.tokenFrom(headers));',
          '    return claims.sub;',
          '  } catch (err) {',
          "    if (err instanceof PorteroTokenError && err.code === 'jwks_unavailable') return 'unknown';",
          '    throw err;',
          '  }',
          '}',
          'export const hono = porteroAuth({ verifier });',
          "export const express = expressAuth({ verifier, cookieName: 'auth_token' });",
          'export type Vars = PorteroVariables;',
          '// @ts-expect-error portero never signs with HS256: the types refuse it too',
          "createVerifier({ issuer: 'https://auth.example.com', algorithms: ['HS256'] });",
          '',
        ].join('\n'),
      );
      const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
      const checked = await runToExit(process.execPath, [tsc, '-p', service]);
      expect(checked.code, `${checked.stdout}${checked.stderr}`).toBe(0);

      const loaded = await runToExit(
        process.execPath,
        ['--input-type=module', '-e', "const m = await import('portero/verify'); console.log(typeof m.createVerifier)"],
        {
          cwd: service,
        },
      );
      expect(loaded.stdout.trim(), loaded.stderr).toBe('function');
    } finally {
      await rm(service, { recursive: true, force: true });
    }
  });
});

describe(`plain node running ${EXAMPLE}`, () => {
  it('prints the claims of a token from a real sign-in', async () => {
    const token = await gateway.signIn('u-7', { email: 'grace@example.com', name: 'Grace Hopper' });
    const result = await node(EXAMPLE, token, gateway.jwksUrl, gateway.issuer);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(decodeJwt(token));
    expect(JSON.parse(result.stdout)).toMatchObject({ sub: 'corp:u-7', email: 'grace@example.com', iss: gateway.origin });
  });

  it('exits 1 with one line for a forged token, another issuer, or a gateway it cannot reach', async () => {
    const token = await gateway.signIn('u-8');
    expect(refusal(await node(EXAMPLE, tamper(token, { sub: 'corp:admin' }), gateway.jwksUrl, gateway.issuer))).toBe(
      'token refused: invalid_token: the token is not valid: signature verification failed',
    );
    expect(refusal(await node(EXAMPLE, token, gateway.jwksUrl, 'https://someone-else.example'))).toMatch(
      /^token refused: invalid_token: .*"iss"/,
    );
    expect(refusal(await node(EXAMPLE, token, await deadUrl(), gateway.issuer))).toMatch(
      /^token refused: jwks_unavailable: cannot fetch portero's keys from /,
    );
  });
});
