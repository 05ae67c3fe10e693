import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { allCodeBlocks, type CodeBlock, coverageOf, documentationFiles } from '../support/code-blocks.js';
import { REPO_ROOT } from '../support/process.js';

// Every code block a user may paste from README.md, docs/*.md and examples/**/README.md is held to
// one of: run by a named test, validated (parsed, configured) by one, shown verbatim from a file that
// a test runs, or illustrative with a reason. The comment on the line before the block says which
// (test/support/code-blocks.ts lists the forms); a block without one fails here, by file and line.

const blocks = allCodeBlocks();
const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');

const HOW = `Put one line right before its opening fence, saying how it is kept true:
  <!-- snippet: run by test/docs/<file>.test.ts -->         that test takes it with blocksCoveredBy() and runs it as written
  <!-- snippet: validated by test/docs/<file>.test.ts -->   that test takes it with blocksCoveredBy() and checks it without running it
  <!-- snippet: validated as yaml -->                        parsed here (every document), for what cannot run on this machine
  <!-- snippet: verbatim <file>, run by <test> -->           the block is <file> exactly, and <test> runs <file>
  <!-- snippet: illustrative: <why it is not run> -->        output, a log line, an HTTP exchange, a diagram, a command that cannot run here`;

function describeBlock(block: CodeBlock): string {
  const first = block.text.split('\n')[0];
  return `${block.where}: the \`\`\`${block.lang} block under "${block.heading}" (first line: ${first})`;
}

/** What is wrong with `block`'s marker, or undefined when it holds. */
function problemOf(block: CodeBlock): string | undefined {
  if (block.marker === undefined) return `${describeBlock(block)} does not say how it is kept true`;
  const coverage = coverageOf(block.marker);
  if (typeof coverage === 'string') return `${describeBlock(block)}: ${coverage}`;
  switch (coverage.kind) {
    case 'run':
    case 'validated': {
      if (!existsSync(join(REPO_ROOT, coverage.by))) return `${describeBlock(block)}: ${coverage.by} does not exist`;
      const call = `blocksCoveredBy('${coverage.by}')`;
      if (!read(coverage.by).includes(call))
        return `${describeBlock(block)}: ${coverage.by} never calls ${call}, so it cannot see this block`;
      return undefined;
    }
    case 'yaml': {
      const errors = parseAllDocuments(block.text).flatMap((doc) =>
        'errors' in doc ? [...doc.errors, ...doc.warnings].map(String) : ['not YAML'],
      );
      if (errors.length > 0) return `${describeBlock(block)} is not valid YAML:\n${errors.join('\n')}`;
      const empty = parseAllDocuments(block.text).some((doc) => 'toJS' in doc && doc.toJS() == null);
      return empty ? `${describeBlock(block)} has an empty YAML document` : undefined;
    }
    case 'verbatim': {
      if (!existsSync(join(REPO_ROOT, coverage.file))) return `${describeBlock(block)}: ${coverage.file} does not exist`;
      if (!existsSync(join(REPO_ROOT, coverage.by))) return `${describeBlock(block)}: ${coverage.by} does not exist`;
      if (block.text !== read(coverage.file))
        return `${describeBlock(block)} is not ${coverage.file} as it is: copy the file into the block again`;
      return undefined;
    }
    case 'illustrative':
      return undefined;
  }
}

describe('the code blocks of the documentation', () => {
  it('are found in README.md, docs/ and examples/', () => {
    expect(documentationFiles()).toEqual(expect.arrayContaining(['README.md', 'docs/providers.md', 'examples/node/README.md']));
    expect(blocks.filter((block) => block.file === 'README.md' && block.lang === 'ts').length).toBeGreaterThanOrEqual(2);
  });

  it('each say how they are kept true, and that holds', () => {
    const problems = blocks.map(problemOf).filter((problem) => problem !== undefined);
    expect(problems, `${problems.join('\n')}\n\n${HOW}`).toEqual([]);
  });

  it('have no snippet comment that is not right before a block', () => {
    const stray = documentationFiles().flatMap((file) =>
      read(file)
        .split('\n')
        .flatMap((line, i, lines) =>
          /^\s*<!--\s*snippet:.*-->\s*$/.test(line) && !/^ {0,3}(`{3,}|~{3,})/.test(lines[i + 1] ?? '')
            ? [`${file}:${i + 1}: ${line.trim()}`]
            : [],
        ),
    );
    expect(stray, `a snippet comment must be on the line right before the block's opening fence:\n${stray.join('\n')}`).toEqual([]);
  });
});

describe('the checks of the snippet comments', () => {
  const block = (marker: string | undefined, text = 'a: 1\n'): CodeBlock => ({
    file: 'README.md',
    line: 7,
    lang: 'yaml',
    text,
    heading: 'Somewhere',
    marker,
    where: 'README.md:7',
  });

  it('name the file and line of a block that says nothing, and how to say it', () => {
    expect(problemOf(block(undefined))).toMatch(/^README\.md:7: the ```yaml block under "Somewhere" \(first line: a: 1\) does not say how/);
  });

  it('refuse a marker they do not know, a test that does not exist or does not take the block, and YAML that does not parse', () => {
    expect(problemOf(block('runs somewhere'))).toContain('"runs somewhere" is not one of');
    expect(problemOf(block('run by test/docs/nothing-here.test.ts'))).toContain('test/docs/nothing-here.test.ts does not exist');
    expect(problemOf(block('run by test/docs/readme.test.ts'))).toContain("never calls blocksCoveredBy('test/docs/readme.test.ts')");
    expect(problemOf(block('validated as yaml', 'a: [1\n'))).toContain('is not valid YAML');
    expect(problemOf(block('validated as yaml', 'a: 1\nb: 2\n'))).toBeUndefined();
    expect(problemOf(block('verbatim deploy/caddy/Caddyfile, run by test/e2e/caddy.test.ts', 'other\n'))).toContain(
      'is not deploy/caddy/Caddyfile as it is',
    );
  });
});
