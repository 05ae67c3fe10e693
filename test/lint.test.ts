import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runToExit } from './support/process.js';

// `npm test` lints the tree with the repository's biome.json (`npm run lint`), so a new import
// cycle or an import against the folder direction fails the build. These tests give that
// configuration a small tree of its own with one mistake of each kind, and check that each is
// reported, and that the imports the direction allows are not.

const FILES: Record<string, string> = {
  // Allowed: flow on store and providers; tokens on store; config on providers; verify on shared.
  'src/store/types.ts': 'export type KeyValueStore = { get(key: string): Promise<string | undefined> };\n',
  'src/providers/types.ts':
    "import { INTERNAL } from '../errors.js';\nexport const REFUSED = INTERNAL;\nexport type Profile = { subject: string };\n",
  'src/errors.ts': "export const INTERNAL = 'internal';\n",
  'src/config/types.ts': "import type { Profile } from '../providers/types.js';\nexport type Config = { profile?: Profile };\n",
  'src/flow/login.ts':
    "import type { Profile } from '../providers/types.js';\nimport type { KeyValueStore } from '../store/types.js';\nexport type Login = { store: KeyValueStore; profile: Profile };\n",
  'src/shared/claims.ts': 'export type Claims = { sub: string };\n',
  'src/verify/verifier.ts': "import type { Claims } from '../shared/claims.js';\nexport type Verified = Claims;\n",
  'src/http/deps.ts': "import type { Login } from '../flow/login.js';\nexport type HttpDeps = { login: Login };\n",
  // Against the direction, type-only imports included.
  'src/providers/github.ts': "import type { Config } from '../config/types.js';\nexport type GitHub = { config: Config };\n",
  'src/store/redis.ts': "import type { HttpDeps } from '../http/deps.js';\nexport type Redis = { deps: HttpDeps };\n",
  'src/verify/hono.ts': "import { INTERNAL } from '../errors.js';\nexport const code = INTERNAL;\n",
  'src/shared/bearer.ts': "import type { Login } from '../flow/login.js';\nexport type Bearer = Login;\n",
  // A cycle of type-only imports.
  'src/tokens/a.ts': "import type { B } from './b.js';\nexport type A = { b?: B };\n",
  'src/tokens/b.ts': "import type { A } from './a.js';\nexport type B = { a?: A };\n",
};

interface Diagnostic {
  readonly category: string;
  readonly location: { readonly path: string | { readonly file: string } };
}

let tree: string;
let diagnostics: { file: string; rule: string }[];

beforeAll(async () => {
  tree = await mkdtemp(join(tmpdir(), 'portero-lint-'));
  const config = JSON.parse(await readFile(join(REPO_ROOT, 'biome.json'), 'utf8')) as Record<string, unknown>;
  // The same rules, outside a git checkout.
  delete config.$schema;
  config.vcs = { enabled: false };
  await writeFile(join(tree, 'biome.json'), JSON.stringify(config));
  for (const [path, text] of Object.entries(FILES)) {
    await mkdir(dirname(join(tree, path)), { recursive: true });
    await writeFile(join(tree, path), text);
  }
  const linted = await runToExit(join(REPO_ROOT, 'node_modules/.bin/biome'), ['lint', '--reporter=json', '--max-diagnostics=100', '.'], {
    cwd: tree,
  });
  expect(linted.code, `biome lint accepted the tree:\n${linted.stdout}`).not.toBe(0);
  const report = JSON.parse(linted.stdout) as { diagnostics: Diagnostic[] };
  diagnostics = report.diagnostics.map(({ category, location }) => ({
    file: typeof location.path === 'string' ? location.path : location.path.file,
    rule: category,
  }));
});
afterAll(async () => {
  await rm(tree, { recursive: true, force: true });
});

const reported = (rule: string) => [...new Set(diagnostics.filter((entry) => entry.rule === rule).map((entry) => entry.file))].sort();

describe('the lint rules of biome.json', () => {
  it('refuse an import against the folder direction, type-only or not', () => {
    expect(reported('lint/style/noRestrictedImports')).toEqual([
      'src/providers/github.ts',
      'src/shared/bearer.ts',
      'src/store/redis.ts',
      'src/verify/hono.ts',
    ]);
  });

  it('refuse an import cycle made of type-only imports', () => {
    expect(reported('lint/suspicious/noImportCycles')).toEqual(['src/tokens/a.ts', 'src/tokens/b.ts']);
  });

  it('report nothing else: the imports the direction allows pass', () => {
    const others = diagnostics.filter(
      (entry) => !['lint/style/noRestrictedImports', 'lint/suspicious/noImportCycles'].includes(entry.rule),
    );
    expect(others).toEqual([]);
  });
});
