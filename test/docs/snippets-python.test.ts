import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blocksCoveredBy, type CodeBlock, withOrigin } from '../support/code-blocks.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { REPO_ROOT, spawnGroup, stopGroup } from '../support/process.js';
import { assertPythonJwt, PYTHON, runPython } from '../support/python.js';
import { freePort } from '../support/redis-server.js';
import { loopbackIsReal, serveGateway, tamper, type ServedGateway } from '../support/served-gateway.js';
import { pollUntil } from '../support/wait.js';

// The Python blocks of README.md and examples/python/README.md, as a Python team pastes them but
// for portero's origin (https://auth.example.com becomes this test's gateway): Debian's Python and
// PyJWT run them against a gateway served by this process, with a token from a real sign-in. The
// Django and Bottle middlewares need their frameworks, which are not installed: they are parsed and
// what they import from verify_token.py is checked to exist.

const blocks = blocksCoveredBy('test/docs/snippets-python.test.ts');
const EXAMPLES = join(REPO_ROOT, 'examples/python');
/** The commented `audience` argument: the line a user enables when portero sets JWT_AUDIENCE. */
const AUDIENCE_LINE = /^(\s*)# (audience="my-app",)/m;
/** Before the block: the `token` the examples/python block names. After it: what the harness asks. */
const PRELUDE = 'import os as _os\ntoken = _os.environ["TOKEN"]  # added by the test\n';
const HARNESS = `# added by the test
if "current_user" in globals():
    claims = current_user(token)
print(claims["sub"])
`;

/** Parses the file named by its argument; prints what it imports from verify_token, and fails for a name it lacks. */
const FRAMEWORK_CHECK = `import ast, sys, verify_token
tree = ast.parse(open(sys.argv[1]).read())
names = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "verify_token" for a in n.names]
missing = [name for name in names if not hasattr(verify_token, name)]
print("imports", names, "missing", missing)
sys.exit(1 if missing or not names else 0)
`;

/** Its snippet comment says `validated by`: checked, not run (the frameworks are not installed). */
const validated = (block: CodeBlock) => block.marker?.startsWith('validated') === true;
const scripts = blocks.filter((block) => block.lang === 'python' && !validated(block));
const commands = blocks.filter((block) => block.lang === 'sh');
const frameworks = blocks.filter((block) => block.lang === 'python' && validated(block));

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers(), loopbackIsReal);
let plain: ServedGateway;
let withAudience: ServedGateway;
let dir: string;

beforeAll(async () => {
  assertPythonJwt();
  msw.listen({ onUnhandledRequest: 'error' });
  plain = await serveGateway(idp);
  withAudience = await serveGateway(idp, { env: { JWT_AUDIENCE: 'my-app' } });
  dir = await mkdtemp(join(tmpdir(), 'portero-python-snippets-'));
});
afterAll(async () => {
  await Promise.all([plain?.close(), withAudience?.close()]);
  msw.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs `block` (origin replaced; its audience line enabled when `audience`) with TOKEN set, from examples/python. */
async function runScript(block: CodeBlock, gateway: ServedGateway, audience: boolean, token: string) {
  const text = withOrigin(audience ? block.text.replace(AUDIENCE_LINE, '$1$2') : block.text, gateway.origin);
  const file = join(dir, `block-${block.line}${audience ? '-audience' : ''}.py`);
  await writeFile(file, `${PRELUDE}${text}${HARNESS}`);
  return runPython([file], { TOKEN: token, PYTHONPATH: EXAMPLES });
}

describe('the Python blocks of the documentation', () => {
  it('are the ones expected', () => {
    expect(scripts.map((block) => block.file)).toEqual(['README.md', 'examples/python/README.md']);
    expect(commands.map((block) => block.file)).toEqual(['examples/python/README.md']);
    expect(frameworks.map((block) => block.heading)).toEqual(['Django', 'Bottle']);
    expect(scripts.every((block) => AUDIENCE_LINE.test(block.text))).toBe(true);
  });

  it.each(
    scripts.flatMap((block) =>
      [false, true].map((audience) => [`${block.where}${audience ? ', its audience line enabled' : ''}`, block, audience] as const),
    ),
  )('%s: accepts the token of a real sign-in and refuses it forged', async (_, block, audience) => {
    const gateway = audience ? withAudience : plain;
    const token = await gateway.signIn('u-2');
    const accepted = await runScript(block, gateway, audience, token);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stdout.trim()).toBe('corp:u-2');
    const forged = await runScript(block, gateway, audience, tamper(token, { sub: 'corp:admin' }));
    expect(forged.code).toBe(1);
    expect(forged.stderr).toMatch(/jwt\.exceptions\.InvalidSignatureError: Signature verification failed/);
  });

  it.each(commands.map((block) => [block.where, block] as const))(
    '%s: starts app.py, which knows the user by the token',
    async (_, block) => {
      const port = await freePort();
      // Its own port for the backend's (PORT=8000 may be taken here), with portero's origin.
      const command = withOrigin(block.text.trim(), plain.origin).replace('PORT=8000', `PORT=${port}`);
      expect(command).toMatch(/ python3 app\.py$/);
      const env = { PATH: `${join(PYTHON, '..')}:/bin`, LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1' };
      const child = spawnGroup('/bin/sh', ['-c', command], { cwd: EXAMPLES, env, stdio: ['ignore', 'pipe', 'pipe'] }, 'app.py');
      let output = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      try {
        await pollUntil(() => output.includes(`listening on http://127.0.0.1:${port}`), { what: 'app.py to listen', timeoutMs: 10_000 });
        const token = await plain.signIn('u-3');
        const me = await fetch(`http://127.0.0.1:${port}/`, { headers: { authorization: `Bearer ${token}` } });
        expect(await me.json()).toMatchObject({ user: 'corp:u-3' });
        const anonymous = await fetch(`http://127.0.0.1:${port}/`);
        expect([anonymous.status, await anonymous.json()]).toEqual([401, { error: 'missing_token' }]);
      } finally {
        await stopGroup(child, () => output, { name: 'app.py' });
      }
    },
  );

  it.each(frameworks.map((block) => [`${block.where} (${block.heading})`, block] as const))(
    '%s: is Python, and imports from verify_token.py only what it has',
    async (_, block) => {
      const file = join(dir, `framework-${block.line}.py`);
      await writeFile(file, block.text);
      const checked = await runPython(['-c', FRAMEWORK_CHECK, file], { PYTHONPATH: EXAMPLES });
      expect(checked.code, `${checked.stdout}${checked.stderr}`).toBe(0);
      expect(checked.stdout).toContain('verify_request');
    },
  );
});
