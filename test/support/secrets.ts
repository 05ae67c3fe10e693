/** A value that must never be written to a log, by name. */
export interface Secret {
  readonly name: string;
  readonly value: string;
}

/** A captured output line and where it came from (`pino`, `ioredis debug`, `console.warn`, ...). */
export interface CapturedLine {
  readonly source: string;
  readonly text: string;
}

/**
 * The forms a secret may take on its way into a line: as it is, URL-encoded (a query or cookie),
 * JSON-escaped, base64url and base64 of its bytes (a header, a re-encoded cookie), and hex (how
 * ioredis's debug output prints a Buffer).
 */
function encodings(value: string): [string, string][] {
  const bytes = Buffer.from(value);
  const forms: [string, string][] = [
    ['as it is', value],
    ['URL-encoded', encodeURIComponent(value)],
    ['JSON-escaped', JSON.stringify(value).slice(1, -1)],
    ['base64url', bytes.toString('base64url')],
    ['base64', bytes.toString('base64')],
    ['hex', bytes.toString('hex')],
  ];
  return forms.filter(([, form], index) => forms.findIndex(([, other]) => other === form) === index);
}

/** A secret named without showing it: its first four characters and its length. */
const hint = (value: string) => `${JSON.stringify(value.slice(0, 4))}…, ${value.length} chars`;

/**
 * Every place a secret shows in the lines, each said as "<secret> (<form>) in line <n> [<source>]:
 * <the line with every secret replaced by its name>", so a failure says what leaked where without
 * printing the secret itself. Secrets shorter than 8 characters are refused: they would match by chance.
 */
export function findLeaks(lines: readonly CapturedLine[], secrets: readonly Secret[]): string[] {
  for (const secret of secrets) {
    if (secret.value.length < 8) throw new TypeError(`secret ${secret.name} is too short to look for (${secret.value.length} chars)`);
  }
  const variants = secrets.flatMap((secret) => encodings(secret.value).map(([form, value]) => ({ secret, form, value })));
  // Longest first, so that masking a token does not leave a piece of it behind that names another secret.
  variants.sort((a, b) => b.value.length - a.value.length);
  const leaks: string[] = [];
  lines.forEach((line, index) => {
    const found = variants.filter(({ value }) => line.text.includes(value));
    if (found.length === 0) return;
    let masked = line.text;
    for (const { secret, value } of variants) masked = masked.replaceAll(value, `‹${secret.name}›`);
    for (const { secret, form } of found) {
      leaks.push(`${secret.name} [${hint(secret.value)}] (${form}) in line ${index} [${line.source}]: ${masked.slice(0, 400)}`);
    }
  });
  return leaks;
}
