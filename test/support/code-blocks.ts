import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './process.js';

// Every fenced code block of the documentation, and how each is kept true. The one place that says
// so is a comment on the line right before the block's opening fence:
//
//   <!-- snippet: run by test/docs/snippets-node.test.ts -->        that test runs the block as written
//   <!-- snippet: validated by test/docs/compose.test.ts -->        that test checks it (parses, configures) without running it
//   <!-- snippet: validated as yaml -->                             test/docs/code-blocks.test.ts parses it, every document
//   <!-- snippet: verbatim deploy/caddy/Caddyfile, run by test/e2e/caddy.test.ts -->   the file, shown as it is
//   <!-- snippet: illustrative: a shell session of npm start -->    not run, and the reason
//
// test/docs/code-blocks.test.ts fails for a block without one, naming its file and line.

/** The Markdown files whose code blocks a user pastes, relative to the repository root. */
export function documentationFiles(): string[] {
  const docs = readdirSync(join(REPO_ROOT, 'docs')).filter((name) => name.endsWith('.md'));
  const examples = readdirSync(join(REPO_ROOT, 'examples'), { recursive: true, encoding: 'utf8' }).filter(
    (name) => name === 'README.md' || name.endsWith('/README.md'),
  );
  return ['README.md', ...docs.map((name) => `docs/${name}`), ...examples.map((name) => `examples/${name}`)].sort();
}

export type Coverage =
  | { readonly kind: 'run'; readonly by: string }
  | { readonly kind: 'validated'; readonly by: string }
  | { readonly kind: 'yaml' }
  | { readonly kind: 'verbatim'; readonly file: string; readonly by: string }
  | { readonly kind: 'illustrative'; readonly reason: string };

export interface CodeBlock {
  /** Relative to the repository root: `README.md`, `docs/providers.md`. */
  readonly file: string;
  /** The line of its opening fence, from 1. */
  readonly line: number;
  /** The first word of the fence's info string (`ts`, `python`), `''` for none. */
  readonly lang: string;
  /** What is between the fences, each line ending with a newline, as a user copies it. */
  readonly text: string;
  /** The nearest heading above it, without its `#`s. */
  readonly heading: string;
  /** Its `<!-- snippet: ... -->` line's text after `snippet:`, when it has one. */
  readonly marker: string | undefined;
  /** `file:line`, for messages. */
  readonly where: string;
}

const OPENING = /^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)/;
const MARKER = /^\s*<!--\s*snippet:\s*(.*?)\s*-->\s*$/;

/** The fenced code blocks of one Markdown file (CommonMark fences: ``` or ~~~, closed by the same or longer). */
export function codeBlocksOf(file: string, source = readFileSync(join(REPO_ROOT, file), 'utf8')): CodeBlock[] {
  const lines = source.split('\n');
  const blocks: CodeBlock[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const opening = OPENING.exec(line);
    if (!opening) {
      if (/^#{1,6} /.test(line)) heading = line.replace(/^#+ /, '').trim();
      continue;
    }
    const [, indent = '', fence = '', lang = ''] = opening;
    const closing = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    let end = i + 1;
    while (end < lines.length && !closing.test(lines[end] ?? '')) end++;
    const body = lines.slice(i + 1, end).map((text) => (text.startsWith(indent) ? text.slice(indent.length) : text.trimStart()));
    const marker = MARKER.exec(lines[i - 1] ?? '')?.[1];
    blocks.push({ file, line: i + 1, lang, text: body.map((text) => `${text}\n`).join(''), heading, marker, where: `${file}:${i + 1}` });
    i = end;
  }
  return blocks;
}

/** Every code block of {@link documentationFiles}. */
export function allCodeBlocks(): CodeBlock[] {
  return documentationFiles().flatMap((file) => codeBlocksOf(file));
}

/** What a block's marker says, or a sentence saying what is wrong with it. */
export function coverageOf(marker: string): Coverage | string {
  const run = /^run by (test\/\S+\.test\.ts)$/.exec(marker);
  if (run) return { kind: 'run', by: run[1]! };
  const validated = /^validated by (test\/\S+\.test\.ts)$/.exec(marker);
  if (validated) return { kind: 'validated', by: validated[1]! };
  if (marker === 'validated as yaml') return { kind: 'yaml' };
  const verbatim = /^verbatim (\S+), run by (test\/\S+\.test\.ts)$/.exec(marker);
  if (verbatim) return { kind: 'verbatim', file: verbatim[1]!, by: verbatim[2]! };
  const illustrative = /^illustrative: (.{3,})$/.exec(marker);
  if (illustrative) return { kind: 'illustrative', reason: illustrative[1]! };
  return `"${marker}" is not one of: run by <test>, validated by <test>, validated as yaml, verbatim <file>, run by <test>, illustrative: <reason>`;
}

/**
 * The blocks whose marker says `run by <testFile>` or `validated by <testFile>`: what that test
 * must run or check, found by their marker, so a block moved or added is found too.
 */
export function blocksCoveredBy(testFile: string): CodeBlock[] {
  return allCodeBlocks().filter((block) => {
    const coverage = block.marker === undefined ? undefined : coverageOf(block.marker);
    return typeof coverage === 'object' && (coverage.kind === 'run' || coverage.kind === 'validated') && coverage.by === testFile;
  });
}

/**
 * The block as a user pastes it, but for portero's address: `https://auth.example.com` (the
 * example origin the docs use) becomes `origin`, the test's own gateway.
 */
export function withOrigin(text: string, origin: string): string {
  return text.replaceAll('https://auth.example.com', origin);
}
